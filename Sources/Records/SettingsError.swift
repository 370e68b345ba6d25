// A setting that cannot be used, said in the words a user typed (the CLI shows it as `easgd: …`).

public struct SettingsError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
