//! A call prepared once and run many times: its buffers stay in linear memory, so each run
//! allocates nothing (benchmarks, solver loops).

use super::{FunctionSpec, Runtime, trapped};
use wasmtime::Val;

/// One function's call with its inputs and result kept in linear memory: [`Prepared::run`]
/// calls it again without allocating or copying; [`Prepared::set_input`] and
/// [`Prepared::result_into`] copy without allocating. Dropping it frees the buffers.
pub struct Prepared<'r> {
    pub(super) rt: &'r mut Runtime,
    pub(super) entry: usize,
    pub(super) spec: FunctionSpec,
    /// The wasm arguments, `out` last.
    pub(super) args: Vec<Val>,
    /// Per input: the position of its argument and, in memory, its address and length.
    pub(super) slots: Vec<(usize, Option<(i32, usize)>)>,
    pub(super) buffers: Vec<i32>,
    pub(super) out: (i32, usize),
    pub(super) status: [Val; 1],
}

impl Prepared<'_> {
    pub(super) fn allocate(&mut self, inputs: &[&[f64]], points: &[usize]) -> Result<(), String> {
        for ((input, data), &p) in self.spec.inputs.iter().zip(inputs).zip(points) {
            let position = self.args.len();
            if input.by_value() {
                self.args.push(Val::F64(data[0].to_bits()));
                self.slots.push((position, None));
                continue;
            }
            let at = self
                .rt
                .allocate(&self.spec, data.len(), &mut self.buffers)?;
            self.rt.write(at, data)?;
            self.args.push(Val::I32(at));
            if input.batched {
                self.args.push(Val::I64(p as i64));
            }
            self.slots.push((position, Some((at, data.len()))));
        }
        let out = self
            .rt
            .allocate(&self.spec, self.out.1, &mut self.buffers)?;
        self.out.0 = out;
        self.args.push(Val::I32(out));
        Ok(())
    }

    /// The function being called.
    pub fn function(&self) -> &FunctionSpec {
        &self.spec
    }

    /// Replaces input `k` with `data`, which must have the length the call was prepared
    /// with.
    pub fn set_input(&mut self, k: usize, data: &[f64]) -> Result<(), String> {
        let &(position, place) = self.slots.get(k).ok_or_else(|| {
            format!(
                "`{}` takes {} inputs; there is no input {k}",
                self.spec.name,
                self.spec.inputs.len()
            )
        })?;
        match place {
            None => {
                if data.len() != 1 {
                    return Err(format!(
                        "input {k} (`{}`) of `{}` is a scalar, not {} numbers",
                        self.spec.inputs[k].name,
                        self.spec.name,
                        data.len()
                    ));
                }
                self.args[position] = Val::F64(data[0].to_bits());
                Ok(())
            }
            Some((at, len)) => {
                if data.len() != len {
                    return Err(format!(
                        "input {k} (`{}`) of `{}` was prepared with {len} numbers, not {}",
                        self.spec.inputs[k].name,
                        self.spec.name,
                        data.len()
                    ));
                }
                self.rt.write(at, data)
            }
        }
    }

    /// Calls the function on the inputs in linear memory; the result stays there.
    pub fn run(&mut self) -> Result<(), String> {
        let func = self.rt.entries[self.entry].func;
        func.call(&mut self.rt.store, &self.args, &mut self.status)
            .map_err(|e| trapped(&self.spec, &e))?;
        self.rt.check_status(&self.spec, &self.status[0])
    }

    /// The number of elements of the result.
    pub fn result_len(&self) -> usize {
        self.out.1
    }

    /// Copies the result of the last [`Prepared::run`] to `out` (of [`Prepared::result_len`]
    /// elements).
    pub fn result_into(&self, out: &mut [f64]) -> Result<(), String> {
        if out.len() != self.out.1 {
            return Err(format!(
                "the result of `{}` has {} numbers, not {}",
                self.spec.name,
                self.out.1,
                out.len()
            ));
        }
        self.rt.read(self.out.0, out)
    }

    /// The result of the last [`Prepared::run`], in a new vector.
    pub fn result(&self) -> Result<Vec<f64>, String> {
        let mut out = vec![0.0; self.out.1];
        self.result_into(&mut out)?;
        Ok(out)
    }
}

impl Drop for Prepared<'_> {
    fn drop(&mut self) {
        for &p in &self.buffers {
            let _ = self.rt.free.call(&mut self.rt.store, p);
        }
    }
}
