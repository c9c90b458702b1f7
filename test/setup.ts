/**
 * One fast-check seed for every property test, so a CI run is reproducible: a red run reruns to the
 * same counterexample. FC_SEED=<n> explores other draws (FC_SEED=random: a fresh seed, printed on failure).
 */
import fc from 'fast-check';

const given = process.env.FC_SEED;
if (given !== 'random') fc.configureGlobal({ seed: given === undefined ? 20261123 : Number(given) });
