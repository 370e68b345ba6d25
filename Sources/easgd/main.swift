import EasgdCLI
EasgdCommand.run()
