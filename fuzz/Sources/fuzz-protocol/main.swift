// The fuzz target's entry: nothing to set up; libFuzzer runs `fuzzProtocol` on every input.
import FuzzSupport

runFuzzer(fuzzProtocol, seeds: protocolSeeds)
