// Facts about the alsa-lib this process runs with. (Not named `ALSA`: a type named like its
// module would shadow the module name and break `ALSA.PCM` qualification for callers.)

import CALSA

/// The alsa-lib library loaded at run time.
public enum ALSALibrary {
    /// The run-time alsa-lib version, e.g. `"1.2.8"`.
    ///
    /// The corresponding ALSA function is `snd_asoundlib_version`.
    public static var version: String { String(cString: alsa_asoundlib_version()) }
}
