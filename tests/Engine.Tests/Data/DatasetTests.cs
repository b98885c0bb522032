using Distributed.Engine.Data;
using Distributed.Engine.Tensors;
using Xunit;

namespace Distributed.Engine.Tests.Data;

public sealed class DatasetTests
{
    private static readonly TensorShape Shape = TensorShape.Image(2, 1, 2); // 4 floats per sample

    /// <summary>n samples; sample i holds floats i*10 + (0..3) and label i % numClasses.</summary>
    private static Dataset Make(int n, int numClasses = 10, IReadOnlyList<string>? names = null)
    {
        var images = new float[n * 4];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            for (int k = 0; k < 4; k++) images[i * 4 + k] = i * 10 + k;
            labels[i] = i % numClasses;
        }
        return new Dataset(images, labels, Shape, numClasses, names);
    }

    [Fact]
    public void Constructor_exposes_counts_shape_and_default_class_names()
    {
        var d = Make(6, numClasses: 3);

        Assert.Equal(6, d.Count);
        Assert.Equal(Shape, d.SampleShape);
        Assert.Equal(3, d.NumClasses);
        Assert.Equal(["0", "1", "2"], d.ClassNames);
        Assert.Equal([50f, 51f, 52f, 53f], d.Sample(5).ToArray());
    }

    [Fact]
    public void Constructor_rejects_image_length_that_does_not_match_labels_and_shape()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Dataset(new float[7], new int[2], Shape, 10));
        Assert.Contains("need 8 floats, but 7 were given", ex.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(3)]
    public void Constructor_rejects_labels_outside_the_class_range(int label)
    {
        var ex = Assert.Throws<ArgumentException>(() => new Dataset(new float[8], [0, label], Shape, 3));
        Assert.Contains($"label {label} of sample 1 is outside [0, 3)", ex.Message);
    }

    [Fact]
    public void Constructor_rejects_class_names_of_the_wrong_count()
    {
        Assert.Throws<ArgumentException>(() => new Dataset(new float[4], [0], Shape, 3, ["a", "b"]));
    }

    [Fact]
    public void Sample_outside_the_dataset_throws()
    {
        var d = Make(3);
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Sample(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Sample(-1));
    }

    [Fact]
    public void Slice_copies_a_contiguous_range()
    {
        var d = Make(10, names: FashionMnist.ClassNames);

        var s = d.Slice(3, 4);
        s.Images[0] = -1;

        Assert.Equal(4, s.Count);
        Assert.Equal([3, 4, 5, 6], s.Labels);
        Assert.Equal([40f, 41f, 42f, 43f], s.Sample(1).ToArray());
        Assert.Equal(30f, d.Images[12]); // original untouched
        Assert.Equal(FashionMnist.ClassNames, s.ClassNames);
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Slice(8, 3));
    }

    [Fact]
    public void Select_copies_chosen_samples_in_order_with_repeats()
    {
        var d = Make(10);

        var s = d.Select([7, 2, 7]);

        Assert.Equal([7, 2, 7], s.Labels);
        Assert.Equal([70f, 71f, 72f, 73f, 20f, 21f, 22f, 23f, 70f, 71f, 72f, 73f], s.Images);
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Select([0, 10]));
    }

    [Fact]
    public void WhereLabel_keeps_classes_5_to_9_relabelled_0_to_4_with_their_names()
    {
        var d = Make(20, names: FashionMnist.ClassNames);

        var t = d.WhereLabel(l => l >= 5, l => l - 5);

        Assert.Equal(5, t.NumClasses);
        Assert.Equal(10, t.Count);
        Assert.Equal([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], t.Labels);
        Assert.Equal([50f, 51f, 52f, 53f], t.Sample(0).ToArray());
        Assert.Equal([190f, 191f, 192f, 193f], t.Sample(9).ToArray());
        Assert.Equal(["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"], t.ClassNames);
    }

    [Fact]
    public void WhereLabel_without_relabel_keeps_the_class_count_and_names()
    {
        var d = Make(20, names: FashionMnist.ClassNames);

        var t = d.WhereLabel(l => l % 2 == 0);

        Assert.Equal(10, t.NumClasses);
        Assert.Equal([0, 2, 4, 6, 8, 0, 2, 4, 6, 8], t.Labels);
        Assert.Equal(FashionMnist.ClassNames, t.ClassNames);
    }

    [Fact]
    public void WhereLabel_honours_an_explicit_class_count_and_rejects_labels_outside_it()
    {
        var d = Make(10);

        var t = d.WhereLabel(l => l < 2, l => l, numClasses: 4);
        Assert.Equal(4, t.NumClasses);
        Assert.Equal(["0", "1", "2", "3"], t.ClassNames);

        Assert.Throws<ArgumentException>(() => d.WhereLabel(l => l < 5, l => l, numClasses: 3));
    }

    [Fact]
    public void WhereLabel_merging_classes_joins_their_names()
    {
        var d = Make(10, names: FashionMnist.ClassNames);

        var t = d.WhereLabel(l => l is 5 or 7 or 9, _ => 0);

        Assert.Equal(1, t.NumClasses);
        Assert.Equal(["Sandal+Sneaker+Ankle boot"], t.ClassNames);
        Assert.Equal([0, 0, 0], t.Labels);
    }

    [Fact]
    public void Gather_copies_samples_and_labels_into_the_batch_buffers()
    {
        var d = Make(10);
        var images = new float[3 * 4 + 2];
        images[^1] = 99f;
        var labels = new int[4];

        d.Gather([9, 0, 4], images, labels);

        Assert.Equal([90f, 91f, 92f, 93f, 0f, 1f, 2f, 3f, 40f, 41f, 42f, 43f], images[..12]);
        Assert.Equal(99f, images[^1]); // past the batch: untouched
        Assert.Equal([9, 0, 4], labels[..3]);
    }

    [Fact]
    public void Gather_does_not_allocate()
    {
        var d = Make(64);
        int[] indices = [5, 63, 0, 17, 17, 2, 40, 8];
        var images = new float[indices.Length * 4];
        var labels = new int[indices.Length];
        d.Gather(indices, images, labels); // warm up

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) d.Gather(indices, images, labels);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Gather_rejects_small_buffers_and_bad_indices()
    {
        var d = Make(10);

        Assert.Throws<ArgumentException>(() => d.Gather([1, 2], new float[7], new int[2]));
        Assert.Throws<ArgumentException>(() => d.Gather([1, 2], new float[8], new int[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Gather([1, 10], new float[8], new int[2]));
    }
}
