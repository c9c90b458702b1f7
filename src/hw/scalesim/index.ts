/**
 * The SCALE-Sim-compatible view of the systolic array as a library: read SCALE-Sim's own config and
 * GEMM topology files, compute every figure SCALE-Sim reports, write its three report files.
 *
 *   const config = loadScaleSimConfig('google.cfg');
 *   const results = loadTopology('vit.csv').map((layer) => simulateScaleSim(config, layer.gemm));
 *   writeScaleSimReports('out/', results);
 */
export { loadScaleSimConfig, parseScaleSimConfig, type InterfaceBandwidth, type ScaleSimConfig } from './config.js';
export { loadTopology, parseTopology, type TopologyLayer } from './topology.js';
export { simulateScaleSim, type Accesses, type OperandAccesses, type OperandBandwidths, type ScaleSimResult } from './model.js';
export { scaleSimReports, writeScaleSimReports, COMPUTE_REPORT, BANDWIDTH_REPORT, DETAILED_ACCESS_REPORT } from './reports.js';
