/**
 * Softmax cross-entropy over a batch, as PyTorch's `F.cross_entropy(logits, labels)` with its default
 * reduction='mean': loss = −(1/B) Σ_b log softmax(logits_b)[label_b].
 */

export type FloatArray = Float32Array | Float64Array;

/**
 * logits [B, K], labels [B] (class indices) → the mean loss and dLoss/dLogits [B, K]
 * = (softmax(logits) − onehot(label)) / B, in the same precision as the logits.
 */
export function softmaxCrossEntropy<A extends FloatArray>(
  logits: A,
  labels: ArrayLike<number>,
  batch: number,
  numClasses: number,
): { loss: number; dLogits: A } {
  const dLogits = (logits instanceof Float64Array ? new Float64Array(logits.length) : new Float32Array(logits.length)) as A;
  let loss = 0;
  for (let b = 0; b < batch; b++) {
    const row = b * numClasses;
    const label = labels[b];
    if (!(Number.isInteger(label) && label >= 0 && label < numClasses)) {
      throw new Error(`softmaxCrossEntropy: label ${label} of sample ${b} is not a class index in [0, ${numClasses})`);
    }
    // Subtracting the row maximum keeps exp() from overflowing; log-sum-exp in float64.
    let max = -Infinity;
    for (let j = 0; j < numClasses; j++) if (logits[row + j] > max) max = logits[row + j];
    let sum = 0;
    for (let j = 0; j < numClasses; j++) sum += Math.exp(logits[row + j] - max);
    const logSumExp = max + Math.log(sum);
    loss += logSumExp - logits[row + label];
    for (let j = 0; j < numClasses; j++) {
      dLogits[row + j] = (Math.exp(logits[row + j] - logSumExp) - (j === label ? 1 : 0)) / batch;
    }
  }
  return { loss: loss / batch, dLogits };
}
