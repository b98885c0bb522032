using System.Globalization;
using Distributed.Engine.Tensors;

namespace Distributed.Engine.Data;

/// <summary>
/// An in-memory labelled dataset: <see cref="Count"/> samples of shape <see cref="SampleShape"/>
/// stored contiguously as float32 in NHWC order (each image is <c>(H, W, C)</c>, row-major), with
/// one integer class label per sample.
/// </summary>
/// <remarks>
/// The dataset does not copy the arrays given to its constructor: it takes ownership of them and
/// callers must not modify them afterwards. <see cref="Slice"/>, <see cref="Select"/> and
/// <see cref="WhereLabel"/> return independent copies.
/// </remarks>
public sealed class Dataset
{
    private readonly string[] _classNames;

    /// <summary>Creates a dataset over the given arrays (not copied).</summary>
    /// <param name="images">Count × <c>sampleShape.Size</c> floats, sample after sample, NHWC per sample; image data is expected in [0, 1].</param>
    /// <param name="labels">One class label per sample, each in [0, <paramref name="numClasses"/>).</param>
    /// <param name="sampleShape">The shape of one sample without the batch dimension, e.g. <c>(28, 28, 1)</c>.</param>
    /// <param name="numClasses">Number of classes; at least 1.</param>
    /// <param name="classNames">One name per class; <c>"0"</c>, <c>"1"</c>, … when null.</param>
    /// <exception cref="ArgumentException">The lengths do not agree, a label is out of range, or the names do not match the class count.</exception>
    public Dataset(float[] images, int[] labels, TensorShape sampleShape, int numClasses, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (sampleShape.Rank == 0)
        {
            throw new ArgumentException("the sample shape must have at least one dimension", nameof(sampleShape));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);

        int size = sampleShape.Size;
        if ((long)labels.Length * size != images.Length)
        {
            throw new ArgumentException(
                $"{labels.Length} labels of samples shaped {sampleShape} need {(long)labels.Length * size} floats, but {images.Length} were given",
                nameof(images));
        }
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)numClasses)
            {
                throw new ArgumentException($"label {labels[i]} of sample {i} is outside [0, {numClasses})", nameof(labels));
            }
        }

        if (classNames is null)
        {
            _classNames = DefaultClassNames(numClasses);
        }
        else
        {
            if (classNames.Count != numClasses)
            {
                throw new ArgumentException($"{classNames.Count} class names given for {numClasses} classes", nameof(classNames));
            }
            _classNames = [.. classNames];
        }

        Images = images;
        Labels = labels;
        SampleShape = sampleShape;
        NumClasses = numClasses;
        ClassNames = Array.AsReadOnly(_classNames);
    }

    /// <summary>All samples: <see cref="Count"/> × <see cref="SampleShape"/>.Size floats, NHWC per sample, in [0, 1] for image data.</summary>
    public float[] Images { get; }

    /// <summary>One class label per sample, each in [0, <see cref="NumClasses"/>).</summary>
    public int[] Labels { get; }

    /// <summary>Number of samples.</summary>
    public int Count => Labels.Length;

    /// <summary>The shape of one sample without the batch dimension, e.g. <c>(28, 28, 1)</c>.</summary>
    public TensorShape SampleShape { get; }

    /// <summary>Number of classes; labels lie in [0, NumClasses).</summary>
    public int NumClasses { get; }

    /// <summary>One human-readable name per class, indexed by label.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The <see cref="SampleShape"/>.Size floats of sample <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not in [0, Count).</exception>
    public ReadOnlySpan<float> Sample(int index)
    {
        CheckIndex(index);
        int size = SampleShape.Size;
        return Images.AsSpan(index * size, size);
    }

    /// <summary>
    /// Mean and standard deviation of the pixel values of the first <paramref name="count"/>
    /// samples (the training part), accumulated in double in sample order.
    /// </summary>
    public (float Mean, float Std) PixelStatistics(int count)
    {
        if (count <= 0 || count > Count) throw new ArgumentOutOfRangeException(nameof(count));
        var pixels = Images.AsSpan(0, count * SampleShape.Size);
        double sum = 0, sumSq = 0;
        foreach (float v in pixels) sum += v;
        double mean = sum / pixels.Length;
        foreach (float v in pixels) sumSq += (v - mean) * (v - mean);
        return ((float)mean, (float)Math.Sqrt(sumSq / pixels.Length));
    }

    /// <summary>Standardises every pixel in place: x = (x − mean) / std. Every node applies the same float operations.</summary>
    public void Standardize(float mean, float std)
    {
        if (!(std > 0f) || !float.IsFinite(mean)) throw new ArgumentOutOfRangeException(nameof(std), $"standardisation needs std > 0 and a finite mean, got mean {mean}, std {std}");
        float inverse = 1f / std;
        var images = Images.AsSpan();
        System.Numerics.Tensors.TensorPrimitives.Subtract(images, mean, images);
        System.Numerics.Tensors.TensorPrimitives.Multiply(images, inverse, images);
    }

    /// <summary>A copy of the <paramref name="count"/> samples starting at <paramref name="start"/>, with the same classes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside [0, Count).</exception>
    public Dataset Slice(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if ((long)start + count > Count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"samples [{start}, {(long)start + count}) are outside the dataset's {Count}");
        }
        int size = SampleShape.Size;
        var images = Images.AsSpan(start * size, count * size).ToArray();
        var labels = Labels.AsSpan(start, count).ToArray();
        return new Dataset(images, labels, SampleShape, NumClasses, _classNames);
    }

    /// <summary>A copy of the samples at <paramref name="indices"/>, in that order (repeats allowed), with the same classes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is not in [0, Count).</exception>
    public Dataset Select(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        int n = indices.Count;
        int size = SampleShape.Size;
        var images = new float[(long)n * size];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            int src = indices[i];
            CheckIndex(src);
            Images.AsSpan(src * size, size).CopyTo(images.AsSpan(i * size, size));
            labels[i] = Labels[src];
        }
        return new Dataset(images, labels, SampleShape, NumClasses, _classNames);
    }

    /// <summary>
    /// A copy of the samples whose label satisfies <paramref name="predicate"/>, optionally relabelled;
    /// for transfer learning, e.g. keep classes 5–9 and relabel them 0–4 with
    /// <c>WhereLabel(l =&gt; l &gt;= 5, l =&gt; l - 5)</c>.
    /// </summary>
    /// <param name="predicate">Which original labels to keep.</param>
    /// <param name="relabel">Maps a kept original label to its new label; identity when null.</param>
    /// <param name="numClasses">
    /// The new class count. When null: <see cref="NumClasses"/> without <paramref name="relabel"/>; with it,
    /// one more than the largest new label of any kept class in [0, NumClasses) (independent of which samples are present).
    /// </param>
    /// <returns>
    /// The filtered dataset. Each new class is named after the original class(es) mapped to it
    /// (joined with "+" if several); without <paramref name="relabel"/> every class keeps its name;
    /// otherwise a new class no kept original maps to is named by its number.
    /// </returns>
    /// <exception cref="ArgumentException">A new label falls outside [0, numClasses).</exception>
    public Dataset WhereLabel(Func<int, bool> predicate, Func<int, int>? relabel = null, int? numClasses = null)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        bool relabelled = relabel is not null;
        relabel ??= static l => l;

        // Decide the mapping once per class, not per sample.
        var keep = new bool[NumClasses];
        var map = new int[NumClasses];
        int maxNew = -1;
        for (int c = 0; c < NumClasses; c++)
        {
            keep[c] = predicate(c);
            if (!keep[c]) continue;
            map[c] = relabel(c);
            maxNew = Math.Max(maxNew, map[c]);
        }

        int newClasses = numClasses ?? (!relabelled ? NumClasses : Math.Max(1, maxNew + 1));
        ArgumentOutOfRangeException.ThrowIfLessThan(newClasses, 1, nameof(numClasses));
        for (int c = 0; c < NumClasses; c++)
        {
            if (keep[c] && (uint)map[c] >= (uint)newClasses)
            {
                throw new ArgumentException($"class {c} is relabelled {map[c]}, outside [0, {newClasses})", nameof(relabel));
            }
        }

        var names = new string?[newClasses];
        for (int c = 0; c < NumClasses; c++)
        {
            if (!keep[c]) continue;
            int m = map[c];
            names[m] = names[m] is null ? _classNames[c] : names[m] + "+" + _classNames[c];
        }
        for (int m = 0; m < newClasses; m++)
        {
            names[m] ??= !relabelled && m < NumClasses ? _classNames[m] : m.ToString(CultureInfo.InvariantCulture);
        }

        int kept = 0;
        foreach (var l in Labels)
        {
            if (keep[l]) kept++;
        }
        int size = SampleShape.Size;
        var images = new float[(long)kept * size];
        var labels = new int[kept];
        int j = 0;
        for (int i = 0; i < Labels.Length; i++)
        {
            int l = Labels[i];
            if (!keep[l]) continue;
            Images.AsSpan(i * size, size).CopyTo(images.AsSpan(j * size, size));
            labels[j] = map[l];
            j++;
        }
        return new Dataset(images, labels, SampleShape, newClasses, names!);
    }

    /// <summary>
    /// Copies the samples named by <paramref name="indices"/> into a batch buffer and their labels;
    /// allocation-free. Sample <c>indices[i]</c> goes to <c>images[i*size .. (i+1)*size)</c> and
    /// <c>labels[i]</c>, where size is <see cref="SampleShape"/>.Size; elements past the batch are left untouched.
    /// </summary>
    /// <param name="indices">Sample indices, each in [0, Count); repeats allowed.</param>
    /// <param name="images">Destination of at least indices.Length × size floats (NHWC per sample).</param>
    /// <param name="labels">Destination of at least indices.Length labels.</param>
    /// <exception cref="ArgumentException">A destination is too small.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is not in [0, Count).</exception>
    public void Gather(ReadOnlySpan<int> indices, Span<float> images, Span<int> labels)
    {
        int size = SampleShape.Size;
        int n = indices.Length;
        if ((long)n * size > images.Length)
        {
            throw new ArgumentException($"the image buffer holds {images.Length} floats, {n} samples need {(long)n * size}", nameof(images));
        }
        if (n > labels.Length)
        {
            throw new ArgumentException($"the label buffer holds {labels.Length} labels, {n} samples need {n}", nameof(labels));
        }
        var source = Images.AsSpan();
        for (int i = 0; i < n; i++)
        {
            int src = indices[i];
            CheckIndex(src);
            source.Slice(src * size, size).CopyTo(images.Slice(i * size, size));
            labels[i] = Labels[src];
        }
    }

    /// <summary>The default class names "0", "1", …, "numClasses-1".</summary>
    internal static string[] DefaultClassNames(int numClasses)
    {
        var names = new string[numClasses];
        for (int i = 0; i < numClasses; i++) names[i] = i.ToString(CultureInfo.InvariantCulture);
        return names;
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"sample {index} is outside [0, {Count})");
        }
    }
}
