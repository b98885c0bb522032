using Distributed.Engine.Tensors;

namespace Distributed.Engine.Layers;

/// <summary>
/// One layer of a <see cref="Models.Sequential"/> model. Activations are float32, NHWC,
/// batch-major: a batch of <c>n</c> samples is <c>n × OutputShape.Size</c> contiguous floats.
/// Parameters are not owned by the layer: the model binds each layer to spans of one flat
/// weight buffer, a twin gradient buffer and a non-trainable state buffer.
/// </summary>
public abstract class Layer
{
    private float[] _weights = [];
    private float[] _gradients = [];
    private float[] _state = [];
    private int[] _paramOffsets = [];
    private int[] _paramSizes = [];
    private int[] _stateOffsets = [];
    private int[] _stateSizes = [];
    private string? _name;

    /// <summary>Creates a layer; a null name is replaced by a Keras-style one when the model is built.</summary>
    protected Layer(string? name) => _name = name;

    /// <summary>Keras's class name, e.g. <c>Conv2D</c>.</summary>
    public abstract string TypeName { get; }

    /// <summary>Keras's default name stem, e.g. <c>conv2d</c> (numbered <c>conv2d_1</c>, ...).</summary>
    public abstract string DefaultNameStem { get; }

    /// <summary>The layer's name, unique within its model.</summary>
    public string Name
    {
        get => _name ?? DefaultNameStem;
        internal set => _name = value;
    }

    /// <summary>True if the name was given by the user rather than generated.</summary>
    internal bool HasExplicitName => _name is not null;

    /// <summary>
    /// False freezes the layer: its weights are never updated and count as non-trainable.
    /// The non-trainable state (batch-norm statistics) is not trainable either way.
    /// </summary>
    public bool Trainable { get; set; } = true;

    /// <summary>Per-sample input shape, known once the model is built.</summary>
    public TensorShape InputShape { get; private set; }

    /// <summary>Per-sample output shape, known once the model is built.</summary>
    public TensorShape OutputShape { get; private set; }

    /// <summary>Trainable parameter tensors, in Keras's order (kernel, bias; gamma, beta).</summary>
    public virtual IReadOnlyList<ParameterSpec> Parameters => [];

    /// <summary>Non-trainable state tensors (moving mean, moving variance).</summary>
    public virtual IReadOnlyList<ParameterSpec> StateTensors => [];

    /// <summary>Number of parameters, trainable or frozen, excluding state.</summary>
    public int ParameterCount => _bound ? _parameterCount : Parameters.Sum(p => p.Shape.Size);

    /// <summary>Number of non-trainable state values.</summary>
    public int StateCount => _bound ? _stateCount : StateTensors.Sum(p => p.Shape.Size);

    private bool _bound;
    private int _parameterCount;
    private int _stateCount;

    /// <summary>
    /// Threads the layer's matrix products may use (set through <see cref="Models.Sequential.Threads"/>).
    /// Work is split along output rows or columns only, so results do not depend on it.
    /// </summary>
    internal int Threads { get; set; } = 1;

    /// <summary>Multiply-adds for one sample's forward pass.</summary>
    public virtual long MultAdds => 0;

    /// <summary>Offset of this layer's first parameter in the model's flat weight buffer.</summary>
    public int ParameterOffset { get; private set; }

    /// <summary>Offset of this layer's first state value in the model's flat state buffer.</summary>
    public int StateOffset { get; private set; }

    /// <summary>True when backward needs the layer's forward output (rather than only its input).</summary>
    internal virtual bool BackwardUsesOutput => false;

    /// <summary>
    /// Infers and validates the output shape. Throws <see cref="ModelBuildException"/> naming the
    /// layer and the shapes when the input does not fit.
    /// </summary>
    internal TensorShape Build(TensorShape input)
    {
        InputShape = input;
        OutputShape = ComputeOutputShape(input);
        return OutputShape;
    }

    /// <summary>Computes the output shape for an input shape, or throws <see cref="ModelBuildException"/>.</summary>
    protected abstract TensorShape ComputeOutputShape(TensorShape input);

    /// <summary>Points the layer at its spans of the model's buffers.</summary>
    internal void Bind(float[] weights, float[] gradients, int parameterOffset, float[] state, int stateOffset)
    {
        _weights = weights;
        _gradients = gradients;
        _state = state;
        ParameterOffset = parameterOffset;
        StateOffset = stateOffset;
        // Offsets and sizes are cached here so the hot paths below never rebuild the specs.
        var p = Parameters;
        _paramOffsets = new int[p.Count];
        _paramSizes = new int[p.Count];
        int o = parameterOffset;
        for (int i = 0; i < p.Count; i++) { _paramOffsets[i] = o; _paramSizes[i] = p[i].Shape.Size; o += _paramSizes[i]; }
        var s = StateTensors;
        _stateOffsets = new int[s.Count];
        _stateSizes = new int[s.Count];
        o = stateOffset;
        for (int i = 0; i < s.Count; i++) { _stateOffsets[i] = o; _stateSizes[i] = s[i].Shape.Size; o += _stateSizes[i]; }
        _parameterCount = _paramSizes.Sum();
        _stateCount = _stateSizes.Sum();
        _bound = true;
    }

    /// <summary>Sizes the layer's scratch buffers for batches of up to <paramref name="maxBatch"/> samples.</summary>
    internal virtual void Allocate(int maxBatch) { }

    /// <summary>Parameter tensor <paramref name="index"/> (in <see cref="Parameters"/> order).</summary>
    protected Span<float> Weight(int index) => _weights.AsSpan(_paramOffsets[index], _paramSizes[index]);

    /// <summary>Gradient of parameter tensor <paramref name="index"/>.</summary>
    protected Span<float> Gradient(int index) => _gradients.AsSpan(_paramOffsets[index], _paramSizes[index]);

    /// <summary>State tensor <paramref name="index"/> (in <see cref="StateTensors"/> order).</summary>
    protected Span<float> State(int index) => _state.AsSpan(_stateOffsets[index], _stateSizes[index]);

    /// <summary>
    /// Forward pass. <paramref name="x"/>: <c>batch × InputShape</c>; <paramref name="y"/>:
    /// <c>batch × OutputShape</c>, overwritten. Saves what <see cref="Backward"/> needs.
    /// </summary>
    internal abstract void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, StepContext context);

    /// <summary>
    /// Backward pass for the last forward. <paramref name="dy"/>: gradient of the loss with
    /// respect to <paramref name="y"/>. Writes <paramref name="dx"/> (overwritten) when
    /// <paramref name="computeInputGradient"/>, and overwrites this layer's parameter gradients
    /// when it is trainable.
    /// </summary>
    internal abstract void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch, bool computeInputGradient);

    /// <summary>
    /// True when a sample's forward output and input gradient depend on that sample alone, never on
    /// the rest of the batch (false for batch normalisation, which normalises over the batch), so a
    /// batch gives every sample the bits it would get in a batch of its own group.
    /// </summary>
    internal virtual bool SamplesIndependent => true;

    /// <summary>True when <see cref="BackwardGrouped"/> is supported: always for a layer without parameters.</summary>
    internal virtual bool SupportsGroupedGradients => ParameterCount == 0;

    /// <summary>
    /// Backward over a batch made of consecutive groups of samples (<paramref name="groupSizes"/>, summing
    /// to <paramref name="batch"/>): the input gradient for the whole batch at once, and when the layer is
    /// trainable its parameter gradients group by group, each exactly as a batch of that group alone would
    /// give them, handed to <paramref name="sink"/> after each group (the next group overwrites them).
    /// </summary>
    internal virtual void BackwardGrouped(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx,
        int batch, bool computeInputGradient, ReadOnlySpan<int> groupSizes, IGradientSink sink)
    {
        if (ParameterCount != 0) throw new InvalidOperationException($"{Describe} computes parameter gradients for the whole batch only");
        Backward(x, y, dy, dx, batch, computeInputGradient);
    }

    /// <summary>Names the layer in errors: <c>conv2d_1 (Conv2D)</c>.</summary>
    protected string Describe => $"{Name} ({TypeName})";

    /// <summary>Throws a <see cref="ModelBuildException"/> that names this layer.</summary>
    protected ModelBuildException BuildError(string problem) => new($"{Describe}: {problem}");

    /// <summary>Requires an image input <c>(H, W, C)</c>.</summary>
    protected void RequireImage(TensorShape input)
    {
        if (!input.IsImage)
            throw BuildError($"expects an image input (height, width, channels), got {input}; remove the Flatten/Dense before it or fix the input shape");
    }

    /// <summary>Keras-style configuration for the model specification (JSON), without class_name and name.</summary>
    internal abstract IReadOnlyDictionary<string, object?> Config { get; }
}
