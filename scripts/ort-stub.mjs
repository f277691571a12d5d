// Stands in for onnxruntime-node in the GPU bundle (scripts/bundle.mjs): the GPU path is the torch runner, and
// the 290 MB package does not travel. Anything that really uses it fails with this message.
const missing = () => {
  throw new Error("onnxruntime-node is not carried to this machine (GPU bundle): use the torch runner here");
};
export const env = { versions: { common: "not carried" } };
export const InferenceSession = { create: missing };
export class Tensor {
  constructor() {
    missing();
  }
}
export const listSupportedBackends = () => [];
export default { env, InferenceSession, Tensor, listSupportedBackends };
