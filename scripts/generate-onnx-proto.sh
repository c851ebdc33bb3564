#!/usr/bin/env bash
# Regenerates Sources/ONNXProto/onnx.pb.swift from scripts/proto/onnx.proto.
# The proto is copied verbatim from the `onnx` wheel (onnx/onnx.proto, IR version 13, ONNX 1.20+),
# which carries the int4/uint4/int2/uint2/float4/float8 element types.
# Needs Debian's protoc (apt-get install protobuf-compiler libprotobuf-dev) and protoc-gen-swift
# built from swift-protobuf 1.39.0 (the same version Package.swift depends on). CI does not run this:
# the generated file is committed. Building the plugin takes a few minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
plugin=${PROTOC_GEN_SWIFT:-}
if [ -z "$plugin" ]; then
  work=$(mktemp -d)
  git clone -q --branch 1.39.0 https://github.com/apple/swift-protobuf "$work/swift-protobuf"
  (cd "$work/swift-protobuf" && swift build -c release --product protoc-gen-swift)
  plugin="$work/swift-protobuf/.build/release/protoc-gen-swift"
fi
protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Public --swift_opt=FileNaming=DropPath \
  -I "$root/scripts/proto" --swift_out="$root/Sources/ONNXProto" onnx.proto
echo "wrote Sources/ONNXProto/onnx.pb.swift"
