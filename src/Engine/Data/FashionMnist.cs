using Distributed.Engine.Tensors;

namespace Distributed.Engine.Data;

/// <summary>
/// Locates and loads Fashion-MNIST (Zalando Research, MIT licence): 28×28 greyscale images of
/// 10 clothing classes, 60,000 for training and 10,000 for testing, stored as four IDX files.
/// </summary>
/// <remarks>
/// A folder qualifies when it holds all four files, each either gzip-compressed (<c>.gz</c>, preferred
/// when both exist) or uncompressed. The folder is, in order of precedence: the one passed explicitly
/// (<c>--data-dir</c>), the <c>FASHION_MNIST_DIR</c> environment variable, then
/// <see cref="DefaultDirectory"/> (the Debian package <c>dataset-fashion-mnist</c>). A folder that is
/// named but unusable is an error; there is never a silent fallback to the next choice.
/// </remarks>
public static class FashionMnist
{
    /// <summary>Base name of the training images file (60000 × 28 × 28 unsigned bytes).</summary>
    public const string TrainImagesFile = "train-images-idx3-ubyte";

    /// <summary>Base name of the training labels file (60000 unsigned bytes, 0–9).</summary>
    public const string TrainLabelsFile = "train-labels-idx1-ubyte";

    /// <summary>Base name of the test images file (10000 × 28 × 28 unsigned bytes).</summary>
    public const string TestImagesFile = "t10k-images-idx3-ubyte";

    /// <summary>Base name of the test labels file (10000 unsigned bytes, 0–9).</summary>
    public const string TestLabelsFile = "t10k-labels-idx1-ubyte";

    /// <summary>Suffix of the gzip-compressed variant of each file.</summary>
    public const string GzipSuffix = ".gz";

    /// <summary>The environment variable naming the data folder when none is passed explicitly.</summary>
    public const string EnvironmentVariable = "FASHION_MNIST_DIR";

    /// <summary>Where the Debian package <c>dataset-fashion-mnist</c> installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Number of classes.</summary>
    public const int NumClasses = 10;

    /// <summary>Image height and width in pixels.</summary>
    public const int ImageSize = 28;

    /// <summary>The hint appended to every "folder unusable" error.</summary>
    public const string MissingDataHint =
        "pass --data-dir pointing at a folder with the four Fashion-MNIST IDX files, or install the Debian package dataset-fashion-mnist";

    /// <summary>The four base file names, in the fixed order train images, train labels, test images, test labels.</summary>
    public static IReadOnlyList<string> FileNames { get; } = Array.AsReadOnly([TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile]);

    /// <summary>The class names, indexed by label 0–9.</summary>
    public static IReadOnlyList<string> ClassNames { get; } = Array.AsReadOnly(
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]);

    /// <summary>The shape of one sample: <c>(28, 28, 1)</c> (H, W, C).</summary>
    public static TensorShape SampleShape => TensorShape.Image(ImageSize, ImageSize, 1);

    /// <summary>
    /// Chooses the data folder: <paramref name="dataDir"/> if given, else <c>$FASHION_MNIST_DIR</c> if set
    /// and non-empty, else <see cref="DefaultDirectory"/>. The chosen folder must hold all four files.
    /// </summary>
    /// <param name="dataDir">The folder passed by the user (<c>--data-dir</c>), or null.</param>
    /// <returns>The absolute path of the folder.</returns>
    /// <exception cref="DataFormatException">The chosen folder does not exist or lacks a file; the message names the folder, the missing file and the fix.</exception>
    public static string ResolveDirectory(string? dataDir)
    {
        string source;
        string dir;
        if (dataDir is not null)
        {
            source = "--data-dir";
            dir = dataDir;
        }
        else if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env)
        {
            source = "$" + EnvironmentVariable;
            dir = env;
        }
        else
        {
            source = "default folder";
            dir = DefaultDirectory;
        }

        if (string.IsNullOrWhiteSpace(dir))
        {
            throw new DataFormatException($"Fashion-MNIST folder ({source}) is empty; {MissingDataHint}");
        }
        string full = Path.GetFullPath(dir);
        if (!Directory.Exists(full))
        {
            throw new DataFormatException($"{full}: Fashion-MNIST folder ({source}) does not exist; {MissingDataHint}");
        }
        foreach (var name in FileNames)
        {
            if (FindFile(full, name) is null)
            {
                throw new DataFormatException($"{full}: Fashion-MNIST folder ({source}) has no {name}{GzipSuffix} or {name}; {MissingDataHint}");
            }
        }
        return full;
    }

    /// <summary>
    /// The paths of the four files in a resolved folder, in the order of <see cref="FileNames"/>,
    /// choosing the <c>.gz</c> variant of each when both exist.
    /// </summary>
    /// <param name="directory">A folder returned by <see cref="ResolveDirectory"/>.</param>
    /// <exception cref="DataFormatException">A file is missing.</exception>
    public static IReadOnlyList<string> FilePaths(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var paths = new string[FileNames.Count];
        for (int i = 0; i < paths.Length; i++)
        {
            paths[i] = FindFile(directory, FileNames[i])
                ?? throw new DataFormatException($"{directory}: Fashion-MNIST folder has no {FileNames[i]}{GzipSuffix} or {FileNames[i]}; {MissingDataHint}");
        }
        return paths;
    }

    /// <summary>
    /// Loads Fashion-MNIST from the folder chosen by <see cref="ResolveDirectory"/>: images become
    /// float32 in [0, 1] (byte / 255) of shape <c>(28, 28, 1)</c>, labels 0–9.
    /// </summary>
    /// <param name="dataDir">The folder passed by the user (<c>--data-dir</c>), or null for the environment variable or default.</param>
    /// <returns>Train and test sets, the files' fingerprint and the absolute folder path.</returns>
    /// <exception cref="DataFormatException">The folder is unusable, a file is corrupt, image and label counts differ, images are not 28×28, or a label is not in 0–9.</exception>
    public static FashionMnistData Load(string? dataDir = null)
    {
        string dir = ResolveDirectory(dataDir);
        var paths = FilePaths(dir);
        var train = LoadSplit(paths[0], paths[1]);
        var test = LoadSplit(paths[2], paths[3]);
        string fingerprint = DatasetFingerprint.Compute(paths);
        return new FashionMnistData(train, test, fingerprint, dir);
    }

    /// <summary>The file <paramref name="baseName"/>.gz or <paramref name="baseName"/> in <paramref name="directory"/>, preferring .gz; null if neither exists.</summary>
    internal static string? FindFile(string directory, string baseName)
    {
        string gz = Path.Combine(directory, baseName + GzipSuffix);
        if (File.Exists(gz)) return gz;
        string raw = Path.Combine(directory, baseName);
        return File.Exists(raw) ? raw : null;
    }

    private static Dataset LoadSplit(string imagesPath, string labelsPath)
    {
        var (pixels, count, rows, cols) = IdxReader.ReadImages(imagesPath);
        if (rows != ImageSize || cols != ImageSize)
        {
            throw new DataFormatException($"{imagesPath}: images are {rows}×{cols}, Fashion-MNIST images are {ImageSize}×{ImageSize}");
        }
        var rawLabels = IdxReader.ReadLabels(labelsPath);
        if (rawLabels.Length != count)
        {
            throw new DataFormatException($"{labelsPath}: holds {rawLabels.Length} labels but {imagesPath} holds {count} images; the counts must agree");
        }

        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int l = rawLabels[i];
            if (l >= NumClasses)
            {
                throw new DataFormatException($"{labelsPath}: label {l} of sample {i} is outside 0–{NumClasses - 1}");
            }
            labels[i] = l;
        }

        return new Dataset(ToUnitFloats(pixels), labels, SampleShape, NumClasses, ClassNames);
    }

    /// <summary>Converts bytes to float32 byte/255 (correctly rounded, via a 256-entry table).</summary>
    private static float[] ToUnitFloats(byte[] pixels)
    {
        Span<float> table = stackalloc float[256];
        for (int v = 0; v < 256; v++) table[v] = v / 255f;
        var result = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) result[i] = table[pixels[i]];
        return result;
    }
}
