using Akka.Actor;
using Distributed.Messages.Protocol;
using Distributed.Messages.Serialization;
using Xunit.Abstractions;

namespace Distributed.Messages.Tests.Serialization;

/// <summary>Two ActorSystems on loopback exchange protocol messages over real Akka.Remote with the project's settings.</summary>
public sealed class RemoteWireTests(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(WireTestSupport.RemoteConfig, "receiver", output)
{
    [Fact]
    public async Task Control_messages_and_chunked_tensors_cross_the_wire_and_oversized_frames_are_dropped()
    {
        var sender = ActorSystem.Create("sender", WireTestSupport.RemoteConfig);
        try
        {
            var senderAddress = ((ExtendedActorSystem)sender).Provider.DefaultAddress;
            var receiverAddress = ((ExtendedActorSystem)Sys).Provider.DefaultAddress;
            var target = await sender.ActorSelection(TestActor.Path.ToStringWithAddress(receiverAddress))
                .ResolveOne(TimeSpan.FromSeconds(5));
            IActorRef[] workers = [sender.ActorOf(Props.Empty, "w1"), sender.ActorOf(Props.Empty, "w2")];

            // A control message with actor refs: they arrive as remote refs to the sender's actors.
            target.Tell(new StartRun("run-1", WireTestSupport.Plan(), workers));
            var start = ExpectMsg<StartRun>();
            Assert.Equal(workers.Select(w => w.Path.ToStringWithAddress(senderAddress)), start.Workers.Select(w => w.Path.ToString()));
            WireTestSupport.AssertDeepEqual(WireTestSupport.Plan(), start.Plan);

            // A 4.8 MB weight vector, in chunks.
            var weights = new WeightsUpdated("run-1", 3, 3, WireTestSupport.Floats(1_200_000, 4), WireTestSupport.Floats(100, 5));
            var chunks = TensorChunker.Split(weights, TensorChunker.NewTransferId());
            foreach (var chunk in chunks)
                target.Tell(chunk);
            var assembler = new TensorAssembler();
            AssemblyResult result = default;
            for (int i = 0; i < chunks.Count; i++)
                result = assembler.Add(ExpectMsg<TensorChunk>(), LastSender);
            Assert.Equal(AssemblyStatus.Complete, result.Status);
            WireTestSupport.AssertDeepEqual(weights, result.Message);

            // The same vector unchunked exceeds the frame size: Akka.Remote drops it, the association survives.
            target.Tell(weights);
            target.Tell(new GetWeights("run-1"));
            Assert.Equal("run-1", ExpectMsg<GetWeights>(TimeSpan.FromSeconds(5)).RunId);
        }
        finally
        {
            await sender.Terminate();
        }
    }
}
