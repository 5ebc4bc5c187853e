//! Data-parallel training without MPI: each rank's trainer holds its share of the points
//! and rows, its contributions sum to the whole loss and gradient, and ranks run as threads
//! that sum through a barrier train to the parameters of the one-process run.

mod common;

use std::sync::{Barrier, Mutex};

use sci::runtime::fit::Shard;
use sci::runtime::{TrainSetup, Trainer};
use sci::stdlib::collective::Collective;
use sci::stdlib::data::{Table, write_table};
use sci::stdlib::optim::{AllReduced, Control, Objective, TrainOptions, train};

fn compile(source: &str) -> sci::Compiled {
    sci::Compiler::new()
        .loss_terms(true)
        .compile_source("model.sci", source)
        .unwrap()
}

fn shard(rank: usize, ranks: usize) -> Shard {
    Shard { rank, ranks }
}

/// The loss, gradient and terms of every rank's trainer, summed in rank order.
fn summed(trainers: &mut [Trainer<'_>], p: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    let mut loss = 0.0;
    let mut grad = vec![0.0; p.len()];
    let mut terms: Vec<f64> = Vec::new();
    for t in trainers.iter_mut() {
        let mut g = vec![0.0; p.len()];
        loss += t.value_and_grad(p, &mut g).unwrap();
        for (a, b) in grad.iter_mut().zip(&g) {
            *a += b;
        }
        let own = t.terms(p).unwrap();
        terms.resize(own.len(), 0.0);
        for (a, b) in terms.iter_mut().zip(&own) {
            *a += b;
        }
    }
    (loss, grad, terms)
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

#[test]
fn the_ranks_contributions_sum_to_the_whole_pinn_loss_and_gradient() {
    let (path, text) = common::burgers_pinn_with(common::PINN_HIDDEN);
    let c = compile(&text);
    let _ = path;
    let mut whole = Trainer::new(&c, "BurgersPINN", TrainSetup::default()).unwrap();
    let p = whole.model().params();
    let mut g = vec![0.0; p.len()];
    let loss = whole.value_and_grad(&p, &mut g).unwrap();
    let terms = whole.terms(&p).unwrap();
    for ranks in [2, 4] {
        let mut parts: Vec<Trainer<'_>> = (0..ranks)
            .map(|r| {
                let setup = TrainSetup {
                    shard: shard(r, ranks),
                    ..TrainSetup::default()
                };
                Trainer::new(&c, "BurgersPINN", setup).unwrap()
            })
            .collect();
        let (l, grad, t) = summed(&mut parts, &p);
        assert!(close(l, loss, 1e-13), "{ranks} ranks: loss {l} vs {loss}");
        let scale = g.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for (a, b) in grad.iter().zip(&g) {
            assert!(
                (a - b).abs() <= 1e-13 * scale,
                "{ranks} ranks: gradient {a} vs {b}"
            );
        }
        for (a, b) in t.iter().zip(&terms) {
            assert!(close(*a, *b, 1e-13), "{ranks} ranks: term {a} vs {b}");
        }
        // New points on every rank alike.
        for part in &mut parts {
            part.resample(3).unwrap();
        }
        whole.resample(3).unwrap();
        let loss3 = whole.loss(&p).unwrap();
        let sum3: f64 = parts.iter_mut().map(|t| t.loss(&p).unwrap()).sum();
        assert!(close(sum3, loss3, 1e-13));
        whole.resample(0).unwrap();
    }
}

#[test]
fn points_that_do_not_split_evenly_are_refused_with_a_hint() {
    let (_, text) = common::burgers_pinn_with(common::PINN_HIDDEN);
    let c = compile(&text);
    let setup = TrainSetup {
        shard: shard(0, 3),
        ..TrainSetup::default()
    };
    let e = Trainer::new(&c, "BurgersPINN", setup).err().unwrap();
    assert!(
        e.message.contains("cannot be split evenly over 3 ranks"),
        "{}",
        e.message
    );
    assert!(e.help.unwrap().contains("divisible by 3"));
}

const GRID: usize = 8;

fn operator_model() -> String {
    format!(
        "use nn.{{fno}}

model Op {{
    data pairs(a: real[{GRID}], u: real[{GRID}]) = npy(\"a.npy\", \"u.npy\", test: 4)
    net G(a) = fno(modes: 3, width: 4, layers: 2, projection: 5, seed: 3)
    loss = mean(norm(G(pairs.a) - pairs.u)^2)
}}
"
    )
}

fn write_pairs(dir: &std::path::Path, count: usize) {
    let (mut a, mut u) = (Vec::new(), Vec::new());
    for r in 0..count {
        for j in 0..GRID {
            let x = 2.0 * std::f64::consts::PI * j as f64 / GRID as f64;
            a.push((x + 0.37 * r as f64).sin());
            u.push(0.8 * (x + 0.37 * r as f64).cos() + 0.01 * r as f64);
        }
    }
    let columns: Vec<String> = (0..GRID).map(|j| format!("c{j}")).collect();
    write_table(&dir.join("a.npy"), &Table::new(columns.clone(), a)).unwrap();
    write_table(&dir.join("u.npy"), &Table::new(columns, u)).unwrap();
}

#[test]
fn mini_batches_and_held_out_rows_are_shared_too() {
    let dir = tempfile::tempdir().unwrap();
    write_pairs(dir.path(), 24);
    let c = compile(&operator_model());
    let setup = |batch: Option<usize>, rank: usize, ranks: usize| TrainSetup {
        data_dir: dir.path().to_path_buf(),
        batch,
        seed: 5,
        shard: shard(rank, ranks),
        ..TrainSetup::default()
    };
    // Without batches the loss trains on the 20 training rows only, not the 4 held out.
    let whole = Trainer::new(&c, "Op", setup(None, 0, 1)).unwrap();
    assert_eq!(whole.inputs()[0].1.len(), 20 * 2 * GRID);
    // Batches of 6, 6, 6, 2 rows: each of 2 ranks takes half of every batch.
    for batch in [None, Some(6)] {
        let mut whole = Trainer::new(&c, "Op", setup(batch, 0, 1)).unwrap();
        let mut parts: Vec<Trainer<'_>> = (0..2)
            .map(|r| Trainer::new(&c, "Op", setup(batch, r, 2)).unwrap())
            .collect();
        let p = whole.model().params();
        for round in 0..4 {
            whole.resample(round).unwrap();
            for part in &mut parts {
                part.resample(round).unwrap();
            }
            let mut g = vec![0.0; p.len()];
            let loss = whole.value_and_grad(&p, &mut g).unwrap();
            let (l, grad, _) = summed(&mut parts, &p);
            assert!(close(l, loss, 1e-13), "round {round}: {l} vs {loss}");
            for (a, b) in grad.iter().zip(&g) {
                assert!((a - b).abs() <= 1e-12 * loss, "round {round}: {a} vs {b}");
            }
            let test = whole.test_loss(&p).unwrap().unwrap();
            let test_sum: f64 = parts
                .iter_mut()
                .map(|t| t.test_loss(&p).unwrap().unwrap())
                .sum();
            assert!(close(test_sum, test, 1e-13));
        }
    }
}

/// Ranks as threads of one process: the sum goes through shared slots and a barrier, in
/// rank order, as MPI's all-reduce sums for a fixed number of ranks.
struct Threads<'a> {
    rank: usize,
    slots: &'a Mutex<Vec<Vec<f64>>>,
    barrier: &'a Barrier,
}

impl Collective for Threads<'_> {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.slots.lock().unwrap().len()
    }
    fn sum(&self, values: &mut [f64]) {
        self.slots.lock().unwrap()[self.rank] = values.to_vec();
        self.barrier.wait();
        let slots = self.slots.lock().unwrap().clone();
        self.barrier.wait();
        values.fill(0.0);
        for slot in &slots {
            for (v, s) in values.iter_mut().zip(slot) {
                *v += s;
            }
        }
    }
    fn gather(&self, _bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
        None
    }
}

#[test]
fn ranks_that_sum_their_shares_take_the_one_process_runs_steps() {
    let (_, text) = common::burgers_pinn_with(common::PINN_HIDDEN);
    let c = compile(&text);
    let options = TrainOptions {
        steps: 30,
        lr: 1e-3,
        resample_every: Some(10),
        terms_every: Some(10),
        ..TrainOptions::default()
    };
    let run = |objective: &mut dyn Objective, p: &mut Vec<f64>| {
        train(objective, p, &options, &mut |_| Control::Continue).unwrap()
    };
    let mut whole = Trainer::new(&c, "BurgersPINN", TrainSetup::default()).unwrap();
    let mut p_one = whole.model().params();
    let one = run(&mut whole, &mut p_one);

    let ranks = 2;
    let slots = Mutex::new(vec![Vec::new(); ranks]);
    let barrier = Barrier::new(ranks);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..ranks)
            .map(|rank| {
                let (c, slots, barrier) = (&c, &slots, &barrier);
                let run = &run;
                s.spawn(move || {
                    let collective = Threads {
                        rank,
                        slots,
                        barrier,
                    };
                    let setup = TrainSetup {
                        shard: shard(rank, ranks),
                        ..TrainSetup::default()
                    };
                    let mut trainer = Trainer::new(c, "BurgersPINN", setup).unwrap();
                    let mut p = trainer.model().params();
                    let mut all = AllReduced::new(&mut trainer, &collective);
                    let report = run(&mut all, &mut p);
                    (p, report)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Every rank holds the same parameters, bit for bit.
    assert_eq!(results[0].0, results[1].0);
    assert_eq!(results[0].1.losses, results[1].1.losses);
    // And they follow the one-process run to round-off: the sums differ only in the order
    // the points are added (the stated bound, docs/scaling.md).
    let (p_two, two) = &results[0];
    for (a, b) in one.losses.iter().zip(&two.losses) {
        assert!(close(*a, *b, 1e-12), "losses {a} vs {b}");
    }
    let scale = p_one.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let worst = p_one
        .iter()
        .zip(p_two)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst <= 1e-10 * scale, "parameters differ by {worst:e}");
    assert_eq!(one.terms.len(), two.terms.len());
}
