//! Property tests over random programs: they validate, print/read round-trips exactly,
//! printing is stable, and neither the interpreter nor the reader panics on anything.

use proptest::prelude::*;
use sci_diag::FileId;
use sci_ir::random::{RandomOptions, random_function, random_inputs};
use sci_ir::{FuncId, Interpreter, print_module, read_module, validate_module};

fn options(seed: u64) -> RandomOptions {
    RandomOptions {
        ops: 8 + (seed % 24) as usize,
        ..RandomOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_validate_and_round_trip(seed in any::<u64>()) {
        let m = random_function(seed, &options(seed));
        if let Err(e) = validate_module(&m) {
            panic!("invalid random program {seed}: {e:#?}\n{}", print_module(&m));
        }
        let text = print_module(&m);
        let back = match read_module(FileId(0), &text) {
            Ok(back) => back,
            Err(d) => panic!("printed program does not read back: {d:#?}\n{text}"),
        };
        prop_assert_eq!(&back, &m, "round trip changed the module:\n{}", text);
        prop_assert_eq!(print_module(&back), text);
    }

    #[test]
    fn interpreter_never_panics_on_random_programs(seed in any::<u64>()) {
        let m = random_function(seed, &options(seed));
        let interp = Interpreter::new(&m).unwrap().with_step_limit(200_000);
        for (id, _) in m.functions.iter() {
            let args = random_inputs(&m, id, seed);
            // Errors are fine (e.g. an index out of range); panics are not.
            let _ = interp.call(id, &args);
        }
        // Wrong inputs are errors too.
        let _ = interp.call(FuncId::from_index(0), &[]);
    }

    #[test]
    fn reader_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = read_module(FileId(0), &text);
    }

    #[test]
    fn reader_never_panics_on_mutated_programs(seed in any::<u64>(), edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6)) {
        let m = random_function(seed, &options(seed));
        let mut bytes = print_module(&m).into_bytes();
        for (at, byte, kind) in edits {
            if bytes.is_empty() { break; }
            let at = at % bytes.len();
            match kind {
                0 => bytes[at] = byte,
                1 => { bytes.remove(at); }
                _ => bytes.insert(at, b"%[]{}(),:=@\"-1x"[byte as usize % 15]),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(m) = read_module(FileId(0), &text) {
            // Whatever reads must also validate or be rejected, without panicking, and
            // must evaluate or fail cleanly.
            let _ = print_module(&m);
            if validate_module(&m).is_ok() {
                let interp = Interpreter::new(&m).unwrap().with_step_limit(100_000);
                for (id, _) in m.functions.iter() {
                    let _ = interp.call(id, &random_inputs(&m, id, seed));
                }
            }
        }
    }
}

/// Renumbers every value of `f` by `new_index[old]` (a permutation).
fn permute(f: &mut sci_ir::Function, new_index: &[usize]) {
    use sci_ir::ValueId;
    let map = |id: ValueId| ValueId::from_index(new_index[id.index()]);
    let mut values: Vec<Option<sci_ir::Value>> = vec![None; f.values.len()];
    for (id, v) in f.values.iter() {
        let mut v = v.clone();
        v.op.map_values(map);
        values[new_index[id.index()]] = Some(v);
    }
    let mut arena = sci_ir::Arena::new();
    for v in values {
        arena.push(v.unwrap());
    }
    f.values = arena;
    f.body.args.iter_mut().for_each(|id| *id = map(*id));
    f.body.body.iter_mut().for_each(|id| *id = map(*id));
    f.body.result = map(f.body.result);
}

/// Breaks a module at random: handles pointing anywhere (out of range included), changed
/// shapes, dtypes and batch flags, reordered bodies, callees out of range.
fn corrupt(m: &mut sci_ir::Module, seed: u64) {
    use sci_ir::random::SplitMix64;
    use sci_ir::{DType, Op, ValueId};
    let mut rng = SplitMix64::new(seed);
    let ids: Vec<FuncId> = m.functions.iter().map(|(id, _)| id).collect();
    for id in ids {
        let f = m.functions.get_mut(id).unwrap();
        let n = f.values.len();
        for _ in 0..1 + rng.below(4) {
            let target = ValueId::from_index(rng.below(n));
            let v = f.values.get_mut(target).unwrap();
            match rng.below(6) {
                0 => v.op.map_values(|h| {
                    if rng.chance(0.5) {
                        ValueId::from_index(rng.below(n + 3))
                    } else {
                        h
                    }
                }),
                1 => v.ty.shape = (0..rng.below(3)).map(|_| rng.below(4)).collect(),
                2 => v.ty.dtype = [DType::F64, DType::F32, DType::I64, DType::Bool][rng.below(4)],
                3 => v.ty.batched = !v.ty.batched,
                4 => {
                    if let Op::Call { func, .. } = &mut v.op {
                        *func = FuncId::from_index(rng.below(4));
                    } else if let Op::Index { fill, .. } = &mut v.op {
                        *fill = Some(rng.uniform(-1.0, 1.0));
                    } else {
                        v.op = Op::Arg(rng.below(3));
                    }
                }
                _ => {
                    let len = f.body.body.len();
                    if len > 1 {
                        f.body.body.swap(rng.below(len), rng.below(len));
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Arenas in any order, with unreachable values, print `indexed` and round-trip.
    #[test]
    fn permuted_arenas_round_trip(seed in any::<u64>()) {
        use sci_ir::random::SplitMix64;
        let mut m = random_function(seed, &options(seed));
        let mut rng = SplitMix64::new(seed);
        let ids: Vec<FuncId> = m.functions.iter().map(|(id, _)| id).collect();
        for id in ids {
            let f = m.functions.get_mut(id).unwrap();
            // An unreachable value, as a pass might leave behind.
            f.values.push(sci_ir::Value {
                op: sci_ir::Op::Const(rng.uniform(-1.0, 1.0)),
                ty: sci_ir::Type::scalar(),
                name: Some("dead".into()),
            });
            let n = f.values.len();
            let mut order: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                order.swap(i, rng.below(i + 1));
            }
            permute(f, &order);
        }
        prop_assert!(validate_module(&m).is_ok());
        let text = print_module(&m);
        let indexed = text.contains(" indexed {");
        prop_assert!(indexed);
        let back = match read_module(FileId(0), &text) {
            Ok(back) => back,
            Err(d) => panic!("printed program does not read back: {d:#?}\n{text}"),
        };
        prop_assert_eq!(&back, &m, "round trip changed the module:\n{}", text);
        prop_assert_eq!(print_module(&back), text);
    }

    /// Validation, printing and evaluation never panic on broken modules, and whatever
    /// still validates evaluates (or fails) cleanly.
    #[test]
    fn corrupted_modules_never_panic(seed in any::<u64>()) {
        let mut m = random_function(seed, &options(seed));
        corrupt(&mut m, seed);
        let text = print_module(&m);
        let _ = read_module(FileId(0), &text);
        for (id, f) in m.functions.iter() {
            let _ = sci_ir::validate_function(&m, f);
            let _ = sci_ir::print_function(&m, id);
        }
        if let Ok(interp) = Interpreter::new(&m) {
            let interp = interp.with_step_limit(200_000);
            for (id, _) in m.functions.iter() {
                let _ = interp.call(id, &random_inputs(&m, id, seed));
            }
        } else {
            let errs = validate_module(&m).unwrap_err();
            prop_assert!(!errs.is_empty());
            for e in errs {
                let _ = e.to_diagnostic();
            }
        }
    }
}

/// A float from raw bits: any finite value, ±0, ±inf, subnormals (not NaN, which never
/// compares equal).
fn float(rng: &mut sci_ir::random::SplitMix64) -> f64 {
    match rng.below(6) {
        0 => 0.0,
        1 => -0.0,
        2 => 1.0,
        3 => [f64::INFINITY, f64::NEG_INFINITY, f64::MIN_POSITIVE / 3.0][rng.below(3)],
        _ => loop {
            let x = f64::from_bits(rng.next_u64());
            if !x.is_nan() {
                break x;
            }
        },
    }
}

/// A module whose manifest holds random circuits and observables: every gate kind, any
/// number of qubits and angles (valid or not), angles constant or affine with arbitrary
/// scales and offsets, terms with arbitrary coefficients.
fn random_quantum(seed: u64) -> sci_ir::Module {
    use sci_ir::quantum::*;
    let mut rng = sci_ir::random::SplitMix64::new(seed);
    let mut m = sci_ir::Module::new("Q");
    for c in 0..1 + rng.below(3) {
        let gates = (0..rng.below(12))
            .map(|_| {
                let (kind, _) = GateKind::ALL[rng.below(GateKind::ALL.len())];
                let qubits = (0..rng.below(4)).map(|_| rng.below(40)).collect();
                let angles = (0..rng.below(4))
                    .map(|_| match rng.below(3) {
                        0 => GateAngle::constant(float(&mut rng)),
                        _ => GateAngle {
                            param: Some(rng.below(100)),
                            scale: float(&mut rng),
                            offset: float(&mut rng),
                        },
                    })
                    .collect();
                QuantumGate {
                    kind,
                    qubits,
                    angles,
                }
            })
            .collect();
        m.manifest.circuits.push(QuantumCircuit {
            name: format!("c{c}"),
            qubits: rng.below(40),
            gates,
        });
    }
    let paulis = [Pauli::X, Pauli::Y, Pauli::Z];
    for o in 0..1 + rng.below(3) {
        let terms = (0..rng.below(8))
            .map(|_| PauliTerm {
                coeff: float(&mut rng),
                factors: (0..rng.below(5))
                    .map(|_| (paulis[rng.below(3)], rng.below(40)))
                    .collect(),
            })
            .collect();
        m.manifest.observables.push(PauliObservable {
            name: if o == 0 {
                "H".into()
            } else {
                format!("the observable {o}")
            },
            qubits: rng.below(40),
            terms,
        });
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Circuits and observables round-trip exactly, float bits and signed zeros included,
    /// whether or not they would validate.
    #[test]
    fn quantum_items_round_trip(seed in any::<u64>()) {
        let m = random_quantum(seed);
        let text = print_module(&m);
        let back = match read_module(FileId(0), &text) {
            Ok(back) => back,
            Err(d) => panic!("printed circuits do not read back: {d:#?}\n{text}"),
        };
        prop_assert_eq!(&back, &m, "round trip changed the module:\n{}", text);
        prop_assert_eq!(print_module(&back), text);
    }
}
