/**
 * Off-chip DRAM: energy per bit moved, by memory type (Accelergy's DRAM model). DRAM is a separate
 * chip, so its energy does not follow the accelerator's technology node or supply.
 */
import { UserError } from '../config/errors.js';
import { DRAM_ENERGY_PER_BIT } from './tables.js';

/** Energy to move one bit to or from DRAM of this type. Types without a row (DDR4) are refused. */
export function dramEnergyPerBitJ(type: string): number {
  const found = DRAM_ENERGY_PER_BIT[type];
  if (!found) {
    throw new UserError(`DRAM type ${type} has no energy-per-bit row; priced types are ${Object.keys(DRAM_ENERGY_PER_BIT).join(', ')}`);
  }
  return found.value;
}

/** Energy of moving `readBytes` from and `writeBytes` to DRAM; reads and writes cost the same per bit in the table. */
export function dramEnergyJ(type: string, readBytes: number, writeBytes: number): number {
  return dramEnergyPerBitJ(type) * 8 * (readBytes + writeBytes);
}
