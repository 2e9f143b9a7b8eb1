// PCMDSPTests
