namespace Distributed.Engine.Models;

/// <summary>A contiguous range <c>[Offset, Offset + Length)</c> of the flat parameter vector.</summary>
public readonly record struct ParameterSegment(int Offset, int Length);
