using Distributed.Engine.Data;
using Distributed.Engine.Layers;
using Distributed.Engine.Models;

namespace Distributed.Engine.Training;

/// <summary>Inference-mode evaluation: mean cross-entropy, top-1 and top-5 accuracy, and predictions.</summary>
public static class Evaluation
{
    /// <summary>Evaluates <paramref name="model"/> on <paramref name="data"/> in batches of <paramref name="batchSize"/>.</summary>
    public static EvaluationResult Run(Sequential model, Dataset data, int batchSize = 256, int[]? predictions = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new ArgumentException("cannot evaluate on an empty dataset", nameof(data));
        int size = model.InputShape.Size, classes = model.Classes;
        batchSize = Math.Min(batchSize, data.Count);
        var images = new float[batchSize * size];
        var labels = new int[batchSize];
        var indices = new int[batchSize];
        var probabilities = new float[classes];
        var context = StepContext.Inference();
        double loss = 0;
        long top1 = 0, top5 = 0;
        for (int start = 0; start < data.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, data.Count - start);
            for (int i = 0; i < n; i++) indices[i] = start + i;
            data.Gather(indices.AsSpan(0, n), images, labels);
            var output = model.Forward(images, n, context);
            for (int s = 0; s < n; s++)
            {
                var row = output.Slice(s * classes, classes);
                int label = labels[s];
                if (model.EndsWithSoftmax) row.CopyTo(probabilities);
                else Losses.SoftmaxCrossEntropy.Softmax(row, probabilities);
                loss += -Math.Log(Math.Max(probabilities[label], 1e-30f));
                int rank = 0, best = 0;
                for (int c = 0; c < classes; c++)
                {
                    if (row[c] > row[label]) rank++;
                    if (row[c] > row[best]) best = c;
                }
                if (rank < 1) top1++;
                if (rank < 5) top5++;
                if (predictions is not null) predictions[start + s] = best;
            }
        }
        return new EvaluationResult(loss / data.Count, (double)top1 / data.Count, (double)top5 / data.Count, data.Count);
    }
}
