/** Backend selection and the fast kernels/ops the model uses. */
export { initBackend, describeBackend, describeBackendDetails, BACKEND_NAMES } from "./select";
export type { BackendInfo, BackendName, InitBackendOptions } from "./select";
export { gelu, linear, layerNorm, addLayerNorm, maskedSoftmax, attentionScores, attention, selfAttention, dropout, dropoutMask, adamwUpdate, OpShapeError } from "./ops";
export type { AttentionOptions, SelfAttentionOptions, AdamWHyper } from "./ops";
export { installWasmKernels, uninstallWasmKernels, installedWasmKernels, medrelKernelsActive, nativeKernelsActive, KernelError } from "./kernels";
export { loadNative } from "./native";
export { profileKernels } from "./profile";
export type { KernelTime } from "./profile";
export type { NativeAddon } from "./native";
export { usePrecision, cpuHasBf16, PRECISIONS } from "./precision";
export type { Precision, PrecisionInUse } from "./precision";
export { backendNumerics } from "./numerics";
