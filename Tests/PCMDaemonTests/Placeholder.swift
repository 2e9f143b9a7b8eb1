// PCMDaemonTests
