using Distributed.Engine.Kernels;

namespace Distributed.Engine.Layers;

public sealed partial class Conv2D
{
    // One pass (forward, or the backward's kernel and input gradients) over runs of whole chunks of samples,
    // a run per thread: each chunk is computed by the algorithm the layer resolved to.
    private sealed unsafe class Job : IParallelJob
    {
        private Conv2D _layer = null!;
        private float* _x, _yOrDy, _kernel, _dx, _dKernelChunks;
        private int _batch, _gemmThreads;
        private Pass _pass;
        private float* _maskY, _maskDy, _dBiasChunks;
        private float _cap;

        public void SetPrologue(float* maskY, float* maskDy, float cap, float* dBiasChunks)
        {
            _maskY = maskY; _maskDy = maskDy; _cap = cap; _dBiasChunks = dBiasChunks;
        }

        public void Set(Conv2D layer, float* x, float* yOrDy, float* kernel, float* dx, float* dKernelChunks, int batch, Pass pass, int gemmThreads)
        {
            _gemmThreads = gemmThreads;
            _layer = layer;
            _x = x; _yOrDy = yOrDy; _kernel = kernel; _dx = dx; _dKernelChunks = dKernelChunks;
            _batch = batch; _pass = pass;
        }

        public void RunPart(int part, int parts)
        {
            var layer = _layer;
            ref readonly ConvGeometry g = ref layer._g;
            int k = g.PatchSize, f = layer.Filters, inSize = layer.InputShape.Size, outSize = layer.OutputShape.Size, per = layer._chunkSamples;
            int chunks = (_batch + per - 1) / per;
            var path = layer.ResolvedPath;
            float[] cols = g.IsPointwise || path != ConvPath.Im2Col ? [] : layer._colsPerPart[part];
            var kernel = new ReadOnlySpan<float>(_kernel, k * f);
            for (int c = ParallelJobs.Start(chunks, part, parts), end = ParallelJobs.Start(chunks, part + 1, parts); c < end; c++)
            {
                int s = c * per, n = Math.Min(per, _batch - s), rows = n * g.OutputPixels;
                var x = new ReadOnlySpan<float>(_x + (long)s * inSize, n * inSize);
                var yOrDy = new Span<float>(_yOrDy + (long)s * outSize, n * outSize);
                if (_pass != Pass.Forward)
                {
                    if (_maskY != null)
                        Simd.ActivationGradient(new ReadOnlySpan<float>(_maskY + (long)s * outSize, n * outSize),
                            new ReadOnlySpan<float>(_maskDy + (long)s * outSize, n * outSize), yOrDy, _cap);
                    if (_dBiasChunks != null) Simd.SumRows(yOrDy, rows, new Span<float>(_dBiasChunks + (long)c * f, f));
                }
                switch (path)
                {
                    case ConvPath.Planar:
                        fixed (float* scratch = layer._planarPerPart[part]) RunPlanar(in g, in layer._planarLayout, c, s, n, inSize, outSize, k * f, f, scratch);
                        continue;
                    case ConvPath.Direct:
                        RunDirect(in g, c, s, n, inSize, outSize, k * f, f);
                        continue;
                    case ConvPath.Winograd:
                        fixed (float* scratch = layer._winogradPerPart[part]) RunWinograd(in g, in layer._inputGradientGeometry, c, s, n, inSize, outSize, k * f, f, scratch);
                        continue;
                }
                // The patch matrix is never written out: the products unfold each cache block of it as they pack it
                // (a pointwise convolution's patch matrix is x itself).
                float* xs = _x + (long)s * inSize;
                if (_pass == Pass.Forward)
                {
                    if (g.IsPointwise) Gemm.Multiply(false, false, rows, f, k, x, k, kernel, f, yOrDy, f, accumulate: false, threads: _gemmThreads);
                    else Gemm.MultiplyPatches(false, rows, f, k, xs, in g, kernel, f, yOrDy, f, accumulate: false, threads: _gemmThreads);
                    continue;
                }
                if ((_pass & Pass.KernelGradient) != 0)
                {
                    // This chunk's dK (K×F) = colsᵀ (K×rows) · dy (rows×F).
                    var slot = new Span<float>(_dKernelChunks + (long)c * k * f, k * f);
                    if (g.IsPointwise) Gemm.Multiply(true, false, k, f, rows, x, k, yOrDy, f, slot, f, accumulate: false, threads: _gemmThreads);
                    else Gemm.MultiplyPatches(true, k, f, rows, xs, in g, yOrDy, f, slot, f, accumulate: false, threads: _gemmThreads);
                }
                if ((_pass & Pass.InputGradient) == 0) continue;
                var dx = new Span<float>(_dx + (long)s * inSize, n * inSize);
                if (g.IsPointwise)
                {
                    // dx (rows×C) = dy (rows×F) · Kᵀ (F×C).
                    Gemm.Multiply(false, true, rows, k, f, yOrDy, f, kernel, f, dx, k, accumulate: false, threads: _gemmThreads);
                }
                else
                {
                    var dcols = cols.AsSpan(0, rows * k);
                    Gemm.Multiply(false, true, rows, k, f, yOrDy, f, kernel, f, dcols, k, accumulate: false, threads: _gemmThreads);
                    Im2Col.Fold(dcols, n, g, dx);
                }
            }
        }

        // Winograd: the chunk's forward pass, kernel gradient (written whole into the chunk's slot) and input
        // gradient, the full correlation of dy with the flipped kernel as a forward pass over dy (geometry gi).
        private void RunWinograd(in ConvGeometry g, in ConvGeometry gi, int chunk, int s, int n, int inSize, int outSize, int kernelSize, int f, float* scratch)
        {
            float* x = _x + (long)s * inSize, yOrDy = _yOrDy + (long)s * outSize;
            if (_pass == Pass.Forward)
            {
                WinogradKernels.Forward(x, n, in g, _kernel, f, yOrDy, scratch);
                return;
            }
            if ((_pass & Pass.KernelGradient) != 0)
                WinogradKernels.KernelGradient(x, yOrDy, n, in g, f, _dKernelChunks + (long)chunk * kernelSize, scratch);
            if ((_pass & Pass.InputGradient) != 0)
                WinogradKernels.Forward(yOrDy, n, in gi, _kernel, g.Channels, _dx + (long)s * inSize, scratch);
        }

        private void RunPlanar(in ConvGeometry g, in PlanarLayout l, int chunk, int s, int n, int inSize, int outSize, int kernelSize, int f, float* scratch)
        {
            if (_pass == Pass.Forward)
            {
                for (int i = s; i < s + n; i++) PlanarConvKernels.Forward(_x + (long)i * inSize, _kernel, _dx, _yOrDy + (long)i * outSize, in g, in l, f, scratch);
                return;
            }
            float* slot = (_pass & Pass.KernelGradient) != 0 ? ClearedSlot(chunk, kernelSize) : null;
            float* dx = (_pass & Pass.InputGradient) != 0 ? _dx + (long)s * inSize : null;
            PlanarConvKernels.Backward(_x + (long)s * inSize, _yOrDy + (long)s * outSize, n, _kernel, slot, dx, in g, in l, f, scratch);
        }

        // The chunk's slot of the kernel gradient, zeroed for the kernels that add into it.
        private float* ClearedSlot(int chunk, int kernelSize)
        {
            float* slot = _dKernelChunks + (long)chunk * kernelSize;
            new Span<float>(slot, kernelSize).Clear();
            return slot;
        }

        private void RunDirect(in ConvGeometry g, int chunk, int s, int n, int inSize, int outSize, int kernelSize, int f)
        {
            if (_pass == Pass.Forward)
            {
                for (int i = s; i < s + n; i++) DirectConvKernels.Forward(_x + (long)i * inSize, _kernel, _dx, _yOrDy + (long)i * outSize, in g, f);
                return;
            }
            if ((_pass & Pass.KernelGradient) != 0)
                DirectConvKernels.KernelGradient(_x + (long)s * inSize, _yOrDy + (long)s * outSize, n, ClearedSlot(chunk, kernelSize), in g, f);
            if ((_pass & Pass.InputGradient) != 0)
                for (int i = s; i < s + n; i++) DirectConvKernels.InputGradient(_yOrDy + (long)i * outSize, _kernel, _dx + (long)i * inSize, in g, f);
        }
    }
}
