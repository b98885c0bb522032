using Distributed.Engine.Data;
using Xunit;

namespace Distributed.Engine.Tests.Data;

/// <summary>Tests that set FASHION_MNIST_DIR, a process-wide variable: they run alone, never in parallel.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FashionMnistEnvironmentCollection
{
    public const string Name = "FASHION_MNIST_DIR (process-wide environment)";
}

[Collection(FashionMnistEnvironmentCollection.Name)]
public sealed class FashionMnistEnvironmentTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void FASHION_MNIST_DIR_is_used_when_no_data_dir_is_given()
    {
        DataTestFiles.WriteFashionFolder(_dir.Path, trainCount: 4, testCount: 3);

        var data = WithEnvironment(_dir.Path, () => FashionMnist.Load());

        Assert.Equal(Path.GetFullPath(_dir.Path), data.Directory);
        Assert.Equal(4, data.Train.Count);
        Assert.Equal(3, data.Test.Count);
    }

    [Fact]
    public void FASHION_MNIST_DIR_without_the_files_is_an_error_not_a_fallback()
    {
        var ex = Assert.Throws<DataFormatException>(() => WithEnvironment(_dir.Path, () => FashionMnist.ResolveDirectory(null)));

        Assert.StartsWith($"{_dir.Path}: Fashion-MNIST folder ($FASHION_MNIST_DIR) has no train-images-idx3-ubyte.gz or train-images-idx3-ubyte; pass --data-dir", ex.Message);
    }

    [Fact]
    public void Explicit_data_dir_wins_over_FASHION_MNIST_DIR()
    {
        var env = Path.Combine(_dir.Path, "env");
        var explicitDir = Path.Combine(_dir.Path, "explicit");
        Directory.CreateDirectory(env);
        Directory.CreateDirectory(explicitDir);
        DataTestFiles.WriteFashionFolder(env, trainCount: 4, testCount: 3);
        DataTestFiles.WriteFashionFolder(explicitDir, trainCount: 6, testCount: 2);

        var resolved = WithEnvironment(env, () => FashionMnist.ResolveDirectory(explicitDir));

        Assert.Equal(Path.GetFullPath(explicitDir), resolved);
    }

    [Fact]
    public void Without_data_dir_or_FASHION_MNIST_DIR_the_debian_package_folder_is_used()
    {
        var resolved = WithEnvironment(null, () => FashionMnist.ResolveDirectory(null));

        Assert.Equal(FashionMnist.DefaultDirectory, resolved);
    }

    private static T WithEnvironment<T>(string? value, Func<T> action)
    {
        var saved = Environment.GetEnvironmentVariable(FashionMnist.EnvironmentVariable);
        Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, value);
        try
        {
            return action();
        }
        finally
        {
            Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, saved);
        }
    }
}
