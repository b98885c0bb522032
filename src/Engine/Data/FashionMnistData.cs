namespace Distributed.Engine.Data;

/// <summary>The loaded Fashion-MNIST dataset.</summary>
/// <param name="Train">The training set: images of shape <c>(28, 28, 1)</c> scaled to [0, 1], 10 classes (60,000 samples in the full dataset).</param>
/// <param name="Test">The test set, same shape and classes (10,000 samples in the full dataset).</param>
/// <param name="Fingerprint">SHA-256 (64 lowercase hex digits) of the four files, see <see cref="DatasetFingerprint"/>.</param>
/// <param name="Directory">The absolute path of the folder the files were read from.</param>
public sealed record FashionMnistData(Dataset Train, Dataset Test, string Fingerprint, string Directory);
