// What a map holds per grid point until its files are written, measured, for the memory check before a map is
// computed.

import Records

extension MemoryEstimate {
    /// Bytes a stability map holds per grid point until its files are written (the radius, its CSV row and the
    /// figure's copy): 131 measured (maximum resident size of `easgd map` at 500² and 1500² points, EASGD p = 4),
    /// rounded up.
    public static let bytesPerMapPoint = 160
    /// The same for `variance-map` (two CSV rows per point, one for the data and one for its panel): 236
    /// measured at 200² and 800² points per panel, 15 panels, rounded up.
    public static let bytesPerVariancePoint = 320
}
