/** cost/: prices the actions and components hw/ counts. Energy in J, area in m², power in W. */
export * from './price.js';
export * from './technology.js';
export { sramCost, type SramCost, type SramQuery } from './sram.js';
export { macEnergyJ, peAreaM2, peMacEnergyJ, type PeKind, type PeSpec } from './arithmetic.js';
export { dramEnergyPerBitJ } from './dram.js';
export { areaReport, energyReport, formatArea, formatEnergy } from './format.js';
export { actionCounts, designComponents, designTechnology, priceSimulation, SRAM_PORT_BITS, type SimulationCost } from './simulation.js';
