// EngineMPI on its own: the driver's place behind the seam and what it knows before MPI starts. The MPI runs
// themselves (3 ranks, stop and resume, equality with the simulator) are end-to-end tests in EasgdCLITests,
// since they need mpirun to start the ranks.

import Engine
import EngineMPI
import Testing

@Test func theMPIDriverIsTheMPIBackendBehindTheSeam() {
    let driver: any BackendDriver = MPIDriver()
    #expect(driver.backend == .mpi)
}

@Test func outsideMpirunNoRankOrWorldSizeIsAssumed() {
    // swift test does not run under mpirun: no OMPI_COMM_WORLD_* variables.
    #expect(!MPIDriver.launched)
    #expect(!MPIDriver.isWorkerRank)
    #expect(MPIDriver.launchedWorldSize == nil)
}

@Test func mpiRunsOnlyWhatRunsOnItsOwnClock() {
    #expect(Backend.mpi.canRun(.easgd) && Backend.mpi.canRun(.mdownpour))
    #expect(!Backend.mpi.canRun(.syncEasgd) && !Backend.threads.canRun(.syncEasgd) && Backend.simulated.canRun(.syncEasgd))
}
