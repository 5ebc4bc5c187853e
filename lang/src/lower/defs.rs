//! Named definitions as IR values: params and states as slices of θ and y, lets and
//! outputs and `der` right-hand sides (as `tabulate` when they have index binders),
//! residual values, states at data times, and calls of fns and nets.
//!
//! Each is computed at most once per scope (see [`FnCx::lookup`]); a definition that
//! reaches itself is reported instead of looping.

use super::cx::{FnCx, Key, Point, ir_type};
use super::{Res, diag};
use crate::hir::{Defn, FnInstanceId, HExpr, NetId};
use sci_diag::Span;
use sci_ir::{BinaryOp, Op, Type, Unit, ValueId};

impl FnCx<'_, '_> {
    /// The value of a named definition, computed on first use.
    pub fn entity(&mut self, key: Key, span: Span) -> Res<ValueId> {
        if let Some(v) = self.lookup(&key) {
            return Ok(v);
        }
        if !self.start(&key) {
            return Err(diag::internal(span, "a definition refers to itself"));
        }
        let r = self.entity_uncached(&key, span);
        self.done(&key);
        let v = r?;
        self.remember(key, v);
        Ok(v)
    }

    fn entity_uncached(&mut self, key: &Key, span: Span) -> Res<ValueId> {
        let st = self.st;
        let model = st
            .model
            .ok_or_else(|| diag::internal(span, "a function refers to a model's definition"))?;
        let missing =
            |what: &str| diag::internal(span, format!("the {what} it refers to does not exist"));
        match key {
            Key::Param(p) => {
                let def = model
                    .params
                    .get(p.index())
                    .ok_or_else(|| missing("parameter"))?;
                let theta = self.inputs.theta.ok_or_else(|| {
                    diag::unavailable(span, &format!("The parameter `{}`", def.name), self.context)
                })?;
                let offset = st
                    .theta
                    .param_offset(p.index())
                    .ok_or_else(|| missing("parameter"))?;
                self.slot_value(theta, offset, &def.shape, def.unit, &def.name, span)
            }
            Key::State(s) => {
                let def = model
                    .states
                    .get(s.index())
                    .ok_or_else(|| missing("state"))?;
                let y = self.inputs.y.ok_or_else(|| {
                    diag::unavailable(span, &format!("The state `{}`", def.name), self.context)
                })?;
                let offset = st
                    .states
                    .slots
                    .get(s.index())
                    .ok_or_else(|| missing("state"))?
                    .offset;
                self.slot_value(y, offset, &def.shape, def.unit, &def.name, span)
            }
            Key::Let(l) => {
                let def = model.lets.get(l.index()).ok_or_else(|| missing("let"))?;
                self.defn(&def.defn, &def.shape, &def.name, def.span)
            }
            Key::Output(o) => {
                let def = model
                    .outputs
                    .get(o.index())
                    .ok_or_else(|| missing("output"))?;
                self.defn(&def.defn, &def.shape, &def.name, def.span)
            }
            Key::Der(s) => {
                let def = model
                    .states
                    .get(s.index())
                    .ok_or_else(|| missing("state"))?;
                if self.inputs.y.is_none() {
                    return Err(diag::unavailable(
                        span,
                        &format!("The derivative of `{}`", def.name),
                        self.context,
                    ));
                }
                let rhs = match &def.rhs {
                    Some(rhs) => rhs,
                    None if model.algebraic_states.contains(s) => {
                        return Err(diag::unavailable(
                            span,
                            &format!(
                                "`der({})` of an algebraic state (determined by the model's \
                                 `0 = …` equations, without a `der`)",
                                def.name
                            ),
                            self.context,
                        ));
                    }
                    None => {
                        return Err(diag::internal(
                            def.span,
                            format!("the state `{}` has no equation", def.name),
                        ));
                    }
                };
                self.defn(rhs, &def.shape, &format!("der.{}", def.name), def.span)
            }
            Key::Residual(r) => {
                let def = model
                    .residuals
                    .get(r.index())
                    .ok_or_else(|| missing("residual"))?;
                match &self.point {
                    Some(Point::Residual { id, .. }) if id == r => {}
                    _ => {
                        return Err(diag::unavailable(
                            span,
                            &format!("The residual `{}`", def.name),
                            "this place (a residual has a value only inside `mean(...)` or another reduction over its points)",
                        ));
                    }
                }
                if def.weight == 1.0 {
                    return self.expr(&def.value, Some(&def.name));
                }
                let v = self.expr(&def.value, None)?;
                let ty = self.ty(v)?;
                let w = self.push(Op::Const(def.weight), Type::scalar(), None);
                let w = self.conform(
                    w,
                    &Type {
                        unit: None,
                        ..ty.clone()
                    },
                    def.span,
                )?;
                Ok(self.push(Op::Binary(BinaryOp::Mul, w, v), ty, Some(&def.name)))
            }
            Key::StateAt(s, d) => {
                let def = model
                    .states
                    .get(s.index())
                    .ok_or_else(|| missing("state"))?;
                let data = model
                    .data
                    .get(d.index())
                    .ok_or_else(|| missing("data set"))?;
                let traj = match &self.point {
                    Some(Point::Data {
                        id,
                        traj: Some(traj),
                        ..
                    }) if id == d => *traj,
                    _ => {
                        return Err(diag::unavailable(
                            span,
                            &format!("The state `{}` at the times of `{}`", def.name, data.name),
                            "this place",
                        ));
                    }
                };
                let offset = st
                    .states
                    .slots
                    .get(s.index())
                    .ok_or_else(|| missing("state"))?
                    .offset;
                let name = format!("{}.at.{}", def.name, data.name);
                self.slot_value(traj, offset, &def.shape, def.unit, &name, span)
            }
            Key::Net(..) | Key::Call(..) => {
                Err(diag::internal(span, "a call was looked up as a definition"))
            }
        }
    }

    /// A quantity stored at `offset` of the flat vector `vec`: a slice, reshaped unless the
    /// quantity is a vector (a scalar's slice of one element becomes a scalar).
    pub fn slot_value(
        &mut self,
        vec: ValueId,
        offset: usize,
        shape: &[usize],
        unit: Option<Unit>,
        name: &str,
        span: Span,
    ) -> Res<ValueId> {
        let len = super::ir_shape_len(shape, span)?;
        let sliced = Type::f64(vec![len]).with_unit(unit);
        if shape.len() == 1 {
            return Ok(self.push(
                Op::Slice {
                    array: vec,
                    start: offset,
                    len,
                },
                sliced,
                Some(name),
            ));
        }
        let s = self.push(
            Op::Slice {
                array: vec,
                start: offset,
                len,
            },
            sliced,
            None,
        );
        Ok(self.push(
            Op::Reshape(s),
            Type::f64(shape.to_vec()).with_unit(unit),
            Some(name),
        ))
    }

    /// A definition's value: a `tabulate` over its index binders (index value = start +
    /// block argument), or the value itself (broadcast to the declared shape if scalar).
    pub fn defn(&mut self, d: &Defn, shape: &[usize], name: &str, span: Span) -> Res<ValueId> {
        let value_ty = ir_type(&d.value.ty);
        if d.binders.is_empty() {
            let v = self.expr(&d.value, Some(name))?;
            if value_ty.shape == shape {
                return Ok(v);
            }
            let target = Type {
                shape: shape.to_vec(),
                ..value_ty
            };
            return self.conform(v, &target, span);
        }
        let extents: Vec<usize> = d.binders.iter().map(|b| b.extent()).collect();
        let mut full = extents.clone();
        full.extend(&value_ty.shape);
        if full != shape {
            return Err(diag::internal(
                span,
                format!(
                    "`{name}` is declared with shape {shape:?} but its definition builds {full:?}"
                ),
            ));
        }
        let args = self.begin_block(
            d.binders
                .iter()
                .map(|b| (Some(b.name.clone()), Type::index()))
                .collect(),
        );
        for (b, &arg) in d.binders.iter().zip(&args) {
            let index = self.offset_index(arg, b.start);
            self.bind(b.id, index);
        }
        let element = self.expr(&d.value, None);
        for b in &d.binders {
            self.unbind(b.id);
        }
        let element = element?;
        let element_ty = self.ty(element)?;
        let block = self.end_block(element);
        let ty = Type {
            shape: full,
            ..element_ty
        };
        Ok(self.push(
            Op::Tabulate {
                extents,
                body: block,
            },
            ty,
            Some(name),
        ))
    }

    /// A call of a function instance (one call per distinct argument list).
    pub fn call(
        &mut self,
        func: FnInstanceId,
        args: &[HExpr],
        ty: Type,
        name: Option<&str>,
        span: Span,
    ) -> Res<ValueId> {
        let target = *self.st.callees.fns.get(&func).ok_or_else(|| {
            diag::internal(span, "a call refers to a function that was not compiled")
        })?;
        let params = self
            .st
            .program
            .functions
            .get(func.index())
            .map(|f| f.params.clone())
            .unwrap_or_default();
        if params.len() != args.len() {
            return Err(diag::internal(
                span,
                "a call has the wrong number of arguments",
            ));
        }
        let mut vals = Vec::with_capacity(args.len());
        for (a, p) in args.iter().zip(&params) {
            let v = self.expr(a, None)?;
            vals.push(self.conform(v, &ir_type(&p.ty), a.span)?);
        }
        let key = Key::Call(func, vals.clone());
        if let Some(v) = self.lookup(&key) {
            return Ok(v);
        }
        let v = self.push(
            Op::Call {
                func: target,
                args: vals,
            },
            ty,
            name,
        );
        self.remember(key, v);
        Ok(v)
    }

    /// A network evaluation: `call net.NAME(θ, args…)` (one call per distinct argument list).
    pub fn net_call(
        &mut self,
        net: NetId,
        args: &[HExpr],
        ty: Type,
        name: Option<&str>,
        span: Span,
    ) -> Res<ValueId> {
        let theta = self
            .inputs
            .theta
            .ok_or_else(|| diag::unavailable(span, "A network", self.context))?;
        let mut vals = vec![theta];
        let operator = (self.st.callees.operators)
            .get(&(net.index(), ty.shape.clone()))
            .copied();
        let target = match (operator, self.st.callees.nets.get(net.index())) {
            (Some(f), _) => {
                // An operator: its argument is the function on the grid.
                for a in args {
                    let v = self.expr(a, None)?;
                    vals.push(self.conform(v, &ty.per_point(), a.span)?);
                }
                f
            }
            (None, Some(Some(f))) => {
                for a in args {
                    let v = self.expr(a, None)?;
                    vals.push(self.conform(v, &Type::scalar(), a.span)?);
                }
                *f
            }
            _ => {
                return Err(diag::internal(
                    span,
                    "a network that does not exist is evaluated",
                ));
            }
        };
        let key = Key::Net(net, vals.clone());
        if let Some(v) = self.lookup(&key) {
            return Ok(v);
        }
        let v = self.push(
            Op::Call {
                func: target,
                args: vals,
            },
            ty,
            name,
        );
        self.remember(key, v);
        Ok(v)
    }
}
