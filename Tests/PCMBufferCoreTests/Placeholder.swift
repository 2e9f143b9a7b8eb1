// PCMBufferCoreTests
