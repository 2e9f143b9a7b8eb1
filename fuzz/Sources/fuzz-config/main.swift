// The fuzz target's entry: nothing to set up; libFuzzer runs `fuzzConfig` on every input.
import FuzzSupport

runFuzzer(fuzzConfig, seeds: configSeeds)
