using Distributed.Engine.Data;
using Distributed.Engine.Tensors;
using Xunit;

namespace Distributed.Engine.Tests.Data;

/// <summary>Loading from explicit folders; these tests never consult FASHION_MNIST_DIR.</summary>
public sealed class FashionMnistTests : IDisposable
{
    /// <summary>Pins the committed files in data/fashion-mnist-slice; update only when the slice is deliberately remade.</summary>
    internal const string SliceFingerprint = "cef5e364578e9ca00eb34a419d45324c579f78137f50ffa182fccc2ed09e78d3";

    /// <summary>The four .gz files of the Debian package dataset-fashion-mnist (upstream's published files).</summary>
    internal const string FullFingerprint = "63e8044ede291f93ce0739402ca212bf233fe9c8b0e6f1e68811f4167ffdb020";

    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Committed_slice_loads_2000_train_and_500_test_images_in_0_to_1()
    {
        var data = FashionMnist.Load(DataTestFiles.SliceDirectory);

        Assert.Equal(2000, data.Train.Count);
        Assert.Equal(500, data.Test.Count);
        foreach (var set in new[] { data.Train, data.Test })
        {
            Assert.Equal(TensorShape.Image(28, 28, 1), set.SampleShape);
            Assert.Equal(10, set.NumClasses);
            Assert.Equal(FashionMnist.ClassNames, set.ClassNames);
            Assert.All(set.Images, v => Assert.InRange(v, 0f, 1f));
            Assert.Contains(set.Images, v => v == 1f);
        }
        Assert.Equal(9, data.Train.Labels[0]); // the first Fashion-MNIST sample is an ankle boot
        Assert.Equal(Path.GetFullPath(DataTestFiles.SliceDirectory), data.Directory);
    }

    [Fact]
    public void Committed_slice_has_the_pinned_fingerprint_and_class_counts()
    {
        var data = FashionMnist.Load(DataTestFiles.SliceDirectory);

        Assert.Equal(SliceFingerprint, data.Fingerprint);
        Assert.Equal([194, 216, 202, 195, 186, 200, 194, 215, 198, 200], ClassCounts(data.Train));
        Assert.Equal([55, 52, 65, 46, 57, 39, 47, 47, 44, 48], ClassCounts(data.Test));
    }

    [Fact]
    public void Full_dataset_from_the_debian_package_loads_60000_and_10000()
    {
        var data = FashionMnist.Load(FashionMnist.DefaultDirectory);

        Assert.Equal(60000, data.Train.Count);
        Assert.Equal(10000, data.Test.Count);
        Assert.Equal(FullFingerprint, data.Fingerprint);
        Assert.All(ClassCounts(data.Train), c => Assert.Equal(6000, c));
        Assert.All(ClassCounts(data.Test), c => Assert.Equal(1000, c));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Synthetic_folder_loads_with_pixels_scaled_by_1_over_255(bool gzip)
    {
        DataTestFiles.WriteFashionFolder(_dir.Path, trainCount: 12, testCount: 5, gzip);

        var data = FashionMnist.Load(_dir.Path);

        var pixels = DataTestFiles.Bytes(12 * 784, seed: 1);
        Assert.Equal(12, data.Train.Count);
        Assert.Equal(5, data.Test.Count);
        for (int i = 0; i < pixels.Length; i++) Assert.Equal(pixels[i] / 255f, data.Train.Images[i]);
        Assert.Equal([0, 1, 2, 3, 4], data.Test.Labels);
        Assert.Matches("^[0-9a-f]{64}$", data.Fingerprint);
    }

    [Fact]
    public void Gzip_files_are_preferred_when_both_variants_exist()
    {
        DataTestFiles.WriteFashionFolder(_dir.Path, trainCount: 3, testCount: 2, gzip: false);
        DataTestFiles.WriteFashionFolder(_dir.Path, trainCount: 7, testCount: 4, gzip: true);

        var data = FashionMnist.Load(_dir.Path);

        Assert.Equal(7, data.Train.Count);
        Assert.Equal(4, data.Test.Count);
        Assert.All(FashionMnist.FilePaths(_dir.Path), p => Assert.EndsWith(".gz", p));
    }

    [Fact]
    public void Label_and_image_count_mismatch_in_a_folder_is_rejected()
    {
        DataTestFiles.WriteFashionFolder(_dir.Path, trainCount: 10, testCount: 5, trainLabelCount: 9);

        var ex = Assert.Throws<DataFormatException>(() => FashionMnist.Load(_dir.Path));

        var labels = Path.Combine(_dir.Path, FashionMnist.TrainLabelsFile + ".gz");
        var images = Path.Combine(_dir.Path, FashionMnist.TrainImagesFile + ".gz");
        Assert.Equal($"{labels}: holds 9 labels but {images} holds 10 images; the counts must agree", ex.Message);
    }

    [Fact]
    public void Label_outside_0_to_9_is_rejected_with_the_file_name()
    {
        DataTestFiles.WriteFashionFolder(_dir.Path, trainCount: 3, testCount: 2);
        var labels = Path.Combine(_dir.Path, FashionMnist.TestLabelsFile + ".gz");
        IdxReader.WriteFile(labels, [2], [1, 10], gzip: true);

        var ex = Assert.Throws<DataFormatException>(() => FashionMnist.Load(_dir.Path));

        Assert.StartsWith($"{labels}: label 10 of sample 1 is outside 0", ex.Message);
    }

    [Fact]
    public void Images_that_are_not_28_by_28_are_rejected()
    {
        DataTestFiles.WriteFashionFolder(_dir.Path, trainCount: 3, testCount: 2);
        var images = Path.Combine(_dir.Path, FashionMnist.TrainImagesFile + ".gz");
        IdxReader.WriteFile(images, [3, 32, 32], new byte[3 * 32 * 32], gzip: true);

        var ex = Assert.Throws<DataFormatException>(() => FashionMnist.Load(_dir.Path));

        Assert.StartsWith($"{images}: images are 32×32", ex.Message);
    }

    [Fact]
    public void Explicit_data_dir_without_the_files_is_an_error_not_a_fallback()
    {
        // The default folder exists on CI; an explicit folder must still never fall back to it.
        DataTestFiles.WriteFashionFolder(_dir.Path, trainCount: 3, testCount: 2);
        File.Delete(Path.Combine(_dir.Path, FashionMnist.TestImagesFile + ".gz"));

        var ex = Assert.Throws<DataFormatException>(() => FashionMnist.Load(_dir.Path));

        Assert.Equal(
            $"{_dir.Path}: Fashion-MNIST folder (--data-dir) has no t10k-images-idx3-ubyte.gz or t10k-images-idx3-ubyte; " +
            "pass --data-dir pointing at a folder with the four Fashion-MNIST IDX files, or install the Debian package dataset-fashion-mnist",
            ex.Message);
    }

    [Fact]
    public void Explicit_data_dir_that_does_not_exist_is_an_error()
    {
        var missing = Path.Combine(_dir.Path, "nowhere");

        var ex = Assert.Throws<DataFormatException>(() => FashionMnist.ResolveDirectory(missing));

        Assert.StartsWith($"{missing}: Fashion-MNIST folder (--data-dir) does not exist; pass --data-dir", ex.Message);
    }

    [Fact]
    public void Corrupt_file_in_the_folder_names_that_file()
    {
        DataTestFiles.WriteFashionFolder(_dir.Path, trainCount: 3, testCount: 2);
        var images = Path.Combine(_dir.Path, FashionMnist.TrainImagesFile + ".gz");
        var bytes = File.ReadAllBytes(images);
        File.WriteAllBytes(images, bytes[..(bytes.Length - 20)]);

        var ex = Assert.Throws<DataFormatException>(() => FashionMnist.Load(_dir.Path));

        Assert.StartsWith(images + ": ", ex.Message);
    }

    private static int[] ClassCounts(Dataset d)
    {
        var counts = new int[d.NumClasses];
        foreach (var l in d.Labels) counts[l]++;
        return counts;
    }
}
