/**
 * From a sweep point (axis values) to what the simulator runs: the base arch file with the point's
 * fields set, and the workload's trace at the point's quantisation.
 *
 * A quantisation method brings its hardware along: a PTQ4ViT point gets the twin-uniform shifter, a
 * NoisyQuant point a noise adder and an N2UQ point a threshold unit (one lane per array column, as
 * the arch defaults give the vector unit) unless the base design already has one. Its quantizers go
 * where the papers put them (QUANT-METHODS.md §3c, §4c, §7c): twin-uniform on the softmax and GELU
 * outputs (P of P·V, the input of fc2); noise or thresholds on the inputs of qkv, proj, fc1 and fc2
 * (of v instead of qkv when the workload's attention is OFQ's QKR: v's input X̂ is also the input of
 * qkr and qk, made once by the unit the trace charges on v — src/trace/build.ts).
 * A mixed-precision budget b (Liu et al. 2021) is simulated as b bits everywhere: the per-layer
 * widths come from the weights' nuclear norms, which a trace without weights does not have.
 */
import { describe, UserError } from '../config/errors.js';
import { readJsonFile } from '../config/schema.js';
import { resolvePreset } from '../config/presets.js';
import { parseQuantity } from '../config/units.js';
import { designComponents, designTechnology } from '../cost/simulation.js';
import { ARCH_DIR, archPresets, parseArch, type ArchFile } from '../hw/arch-file.js';
import type { Accelerator, DramType } from '../hw/arch.js';
import { uniformBits, type BitConfig, type BitsEntry } from '../trace/bits.js';
import { buildTrace } from '../trace/build.js';
import type { Trace } from '../trace/trace.js';
import { loadWorkload, workloadAttention, type Workload } from '../trace/workload.js';
import { AXES, type SweepMethod } from './axes.js';
import type { ParamValue } from './result.js';

/** The quantisation every point starts from. */
export interface QuantBase {
  method: SweepMethod;
  wbits: number;
  abits: number;
  accBits: number;
}

/**
 * What a design reads from its sweep spec (a SweepSpec is one): declared here so that spec.ts, which
 * checks its axes by designing them, and this file do not import each other.
 */
export interface DesignBase {
  base: string;
  workload: string;
  batch?: number;
  quant: QuantBase;
}

/** A point's quantisation, after its axes are applied to the spec's base. */
export interface PointQuant {
  method: SweepMethod;
  wbits: number;
  abits: number;
  accBits: number;
  /** Mixed precision: wbits = abits = the budget's mean width. */
  mixed: boolean;
}

export interface PointDesign {
  arch: Accelerator;
  trace: Trace;
  quant: PointQuant;
  /** Equal keys ⇔ equal simulations: the arch without the fields only pricing reads, and the trace's quantisation. */
  simulationKey: string;
}

/** One point's design and trace (no caching: for reports and tests). */
export function designOf(spec: DesignBase, params: Record<string, ParamValue>): { arch: Accelerator; trace: Trace } {
  const { arch, trace } = designer(spec).design(params);
  return { arch, trace };
}

/**
 * Designs points of one sweep, reading the base design and the workload once and reusing parsed
 * designs and traces between points that share them (both are pure functions of their keys).
 */
export function designer(spec: DesignBase): { design(params: Record<string, ParamValue>): PointDesign } {
  const baseFile = resolvePreset(ARCH_DIR, spec.base);
  if (baseFile === undefined) throw new UserError(`base "${spec.base}" is neither an arch file nor a preset (presets: ${archPresets().join(', ')})`);
  const base = readJsonFile(baseFile) as ArchFile;
  const workload = loadWorkload(spec.workload);
  const archs = new Map<string, Accelerator>();
  const traces = new Map<string, Trace>();
  const quantities = new Map<string, number>();
  const si = (text: string, kind: 'bytesPerSecond' | 'hertz' | 'metres', field: string): number => {
    let v = quantities.get(text);
    if (v === undefined) {
      v = parseQuantity(text, kind, baseFile, field);
      quantities.set(text, v);
    }
    return v;
  };

  return {
    design(params) {
      const quant = pointQuant(spec, params);
      const raw = archFile(base, params, quant);
      // Pricing-only fields (and the clock, a plain number here) are set after parsing, so the
      // parsed design is shared by every point that differs only in them.
      const { dram, clock, technology, ...shaped } = raw;
      const shapeKey = JSON.stringify(shaped);
      let shape = archs.get(shapeKey);
      if (shape === undefined) {
        shape = parseArch({ ...shaped, dram: base.dram, clock: base.clock, technology: base.technology }, `${baseFile} (sweep point)`);
        archs.set(shapeKey, shape);
      }
      const arch: Accelerator = {
        ...shape,
        dram: { type: dram.type as DramType, bandwidthBytesPerSecond: si(dram.bandwidth, 'bytesPerSecond', 'dram.bandwidth') },
        clockHz: si(clock, 'hertz', 'clock'),
        technologyNodeMetres: si(technology, 'metres', 'technology'),
      };
      const batch = typeof params.batch === 'number' ? params.batch : spec.batch;
      const traceKey = JSON.stringify([quant, batch]);
      let trace = traces.get(traceKey);
      if (trace === undefined) {
        trace = buildTrace(workload, { bits: bitConfig(quant, workload), ...(batch === undefined ? {} : { batch }) });
        traces.set(traceKey, trace);
      }
      const simulationKey = `${shapeKey}|${arch.dram.bandwidthBytesPerSecond}|${arch.clockHz}|${traceKey}`;
      return { arch, trace, quant, simulationKey };
    },
  };
}

/** The spec's quantisation with the point's quant axes applied. */
export function pointQuant(spec: DesignBase, params: Record<string, ParamValue>): PointQuant {
  const num = (name: string): number | undefined => (typeof params[name] === 'number' ? (params[name] as number) : undefined);
  const budget = num('quant.budget');
  const both = budget ?? num('quant.bits');
  return {
    method: (params['quant.method'] as SweepMethod | undefined) ?? spec.quant.method,
    wbits: both ?? num('quant.wbits') ?? spec.quant.wbits,
    abits: both ?? num('quant.abits') ?? spec.quant.abits,
    accBits: spec.quant.accBits,
    mixed: budget !== undefined,
  };
}

/**
 * Refuses, with one line, an axis value that cannot make a design: each value is applied alone to
 * the base, and the design must parse, build its trace and be priceable.
 */
export function checkDesignAxes(spec: DesignBase, axes: { name: string; values: ParamValue[] }[], file: string): void {
  let d: ReturnType<typeof designer> | undefined;
  const check = (params: Record<string, ParamValue>, where: string): void => {
    try {
      d ??= designer(spec);
      const { arch } = d.design(params);
      designComponents(arch);
      designTechnology(arch);
    } catch (err) {
      if (err instanceof UserError) throw new UserError(`${file}: ${where}: ${err.message}`);
      throw err;
    }
  };
  check({}, 'the base design');
  axes.forEach((axis, i) => axis.values.forEach((v) => check({ [axis.name]: v }, `axes[${i}] (${axis.name}) value ${describe(v)}`)));
}

// ───────────────────────────── helpers ─────────────────────────────

/** The base arch file with the point's arch axes and its method's units. */
function archFile(base: ArchFile, params: Record<string, ParamValue>, quant: PointQuant): ArchFile {
  const raw: ArchFile = { ...base, array: { ...base.array }, pe: { ...base.pe }, sram: { ...base.sram }, dram: { ...base.dram } };
  for (const [name, value] of Object.entries(params)) {
    if (AXES[name]?.target !== 'arch') continue;
    switch (name) {
      case 'array.rows':
      case 'array.cols':
        raw.array[name === 'array.rows' ? 'rows' : 'cols'] = value as number;
        break;
      case 'array.dataflow':
        raw.array.dataflow = value as ArchFile['array']['dataflow'];
        break;
      case 'pe.kind':
        raw.pe.kind = value as NonNullable<ArchFile['pe']['kind']>;
        break;
      case 'pe.bits':
        raw.pe.actBits = value as number;
        raw.pe.weightBits = value as number;
        break;
      case 'pe.actBits':
      case 'pe.weightBits':
      case 'pe.accBits':
        raw.pe[name.slice(3) as 'actBits' | 'weightBits' | 'accBits'] = value as number;
        break;
      case 'sram.ifmap':
      case 'sram.filter':
      case 'sram.ofmap':
        raw.sram[name.slice(5) as 'ifmap' | 'filter' | 'ofmap'] = value as string;
        break;
      case 'dram.type':
        raw.dram.type = value as DramType;
        break;
      case 'dram.bandwidth':
        raw.dram.bandwidth = value as string;
        break;
      case 'clock':
      case 'technology':
        raw[name] = value as string;
        break;
      case 'vector.lanes':
        raw.vector = { ...raw.vector, lanes: value as number };
        break;
      case 'overlap':
        raw.overlap = value as ArchFile['overlap'];
        break;
      case 'activations':
        raw.activations = value as ArchFile['activations'];
        break;
      default:
        throw new Error(`arch axis ${name} has no rule in design.ts`);
    }
  }
  const lanes = raw.array.cols;
  if (quant.method === 'ptq4vit') raw.twinUniform = true;
  if (quant.method === 'noisyquant' && !(raw.noise?.lanes ?? 0)) raw.noise = { ...raw.noise, lanes };
  if (quant.method === 'n2uq') {
    raw.threshold = { ...raw.threshold, lanes: raw.threshold?.lanes || lanes, maxBits: Math.max(raw.threshold?.maxBits ?? 4, quant.abits) };
  }
  return raw;
}

/**
 * The linear layers whose inputs carry a method's quantizer. A bit map's patterns must each match a
 * layer (trace/bits.ts checkPatternsUsed), so a QKR workload names attn.v in place of qkv. Not
 * attn.qkr: it reads the same X̂ codes as attn.v, and a quantizer on both would charge the noise
 * adder or threshold unit twice for one tensor (and, for N2UQ, skip requantizing V, since the
 * simulator takes a threshold-quantized next GEMM to consume this one's output).
 */
function linearInputs(workload: Workload): string[] {
  return [workloadAttention(workload) === 'qkr' ? '*.attn.v' : '*.attn.qkv', '*.attn.proj', '*.mlp.fc1', '*.mlp.fc2'];
}

/** Widths for every layer and the method's quantizers where its paper puts them. */
function bitConfig(quant: PointQuant, workload: Workload): BitConfig {
  const bits = uniformBits(quant.wbits, quant.abits, quant.accBits);
  const at = (patterns: string[], entry: BitsEntry): BitConfig['layers'] => patterns.map((pattern) => ({ pattern, entry }));
  switch (quant.method) {
    case 'ptq4vit':
      bits.layers = at(['*.attn.pv', '*.mlp.fc2'], { quant: 'twin-uniform' });
      break;
    case 'noisyquant':
      bits.layers = at(linearInputs(workload), { quant: 'noisy' });
      break;
    case 'n2uq':
      bits.layers = at(linearInputs(workload), { quant: 'threshold' });
      break;
    default:
      break;
  }
  bits.file = `${workload.name} with ${quant.method}`;
  return bits;
}
