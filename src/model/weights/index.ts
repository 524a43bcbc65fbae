export { SafetensorsSource, writeSafetensors, type HostTensor } from "./safetensors";
export { PytorchSource } from "./torch";
export { ZipReader, type ZipEntry } from "./zip";
export { unpickle, PyGlobal, PyObject, type PickleHooks } from "./pickle";
export { decodeFloat32, float32ToF16Bits, DTYPE_BYTES, type WeightDtype, type WeightSource, type TensorInfo } from "./source";
