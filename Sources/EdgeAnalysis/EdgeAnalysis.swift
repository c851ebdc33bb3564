import EdgeIR
