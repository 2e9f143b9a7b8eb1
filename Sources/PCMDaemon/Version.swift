// The daemon's version, shown by `pcmd --version` and in its startup log line.

/// pcmd's version string.
public enum PCMDaemonVersion {
    public static let string = "0.1.0"
}
