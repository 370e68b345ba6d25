// The toolkit's version, written into every run's config.json.

import Records
import Foundation

public enum Toolkit {
    public static let version = "0.2.0"
}
