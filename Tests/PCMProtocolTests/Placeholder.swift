// PCMProtocolTests
