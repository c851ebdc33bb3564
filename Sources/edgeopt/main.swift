import EdgeOpt
print("edgeopt")
