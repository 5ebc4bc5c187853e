//! Network declarations: `net u(t, x) = mlp(…)`, and the neural operators `fno(…)` and
//! `deeponet(…)` (a function on a grid to a function on the same grid).
//!
//! The constructors share how their options are read: named (E0305), each once (E0219),
//! unknown ones named with the list and a suggestion (E0219); sizes, seeds and activations
//! are checked the same way for all three.

use super::env::{Checker, Ctx};
use super::suggest::did_you_mean;
use crate::ast::{self, Expr, ExprKind};
use crate::builtins::{self, BuiltinKind};
use crate::hir::{Activation, DeepOnetHir, FnoHir, Init, NetHir, OperatorHir};
use sci_diag::{Diagnostic, Span};

impl Checker<'_> {
    /// `net u(t, x) = mlp(hidden: [20, 20], activation: tanh, outputs: 1, seed: 0, init: he)`.
    pub fn check_net(&mut self, id: crate::hir::NetId, net: &ast::Net, span: Span) {
        self.member_scope(Ctx::Const);
        let hir = self.net_arch(net, span);
        self.end_member_scope();
        if let Some(h) = hir
            && let Some(slot) = self.model.as_mut().and_then(|m| m.nets.get_mut(id.index()))
        {
            *slot = Some(h);
        }
    }

    fn net_arch(&mut self, net: &ast::Net, span: Span) -> Option<NetHir> {
        let mut ok = true;
        for (k, a) in net.args.iter().enumerate() {
            if let Some(prev) = net
                .args
                .get(..k)
                .and_then(|p| p.iter().find(|b| b.name == a.name))
            {
                self.report(
                    Diagnostic::error(
                        "E0202",
                        format!(
                            "The input `{}` of the network `{}` is declared twice.",
                            a.name, net.name.name
                        ),
                    )
                    .with_primary(a.span, "again here")
                    .with_secondary(prev.span, "first here"),
                );
                ok = false;
            }
        }
        if net.args.is_empty() {
            self.report(
                Diagnostic::error(
                    "E0224",
                    format!("The network `{}` has no inputs.", net.name.name),
                )
                .with_primary(net.name.span, "no inputs")
                .with_help(format!(
                    "name its inputs: `net {}(x) = mlp(…)`",
                    net.name.name
                )),
            );
            ok = false;
        }
        let ExprKind::Call { callee, args } = &net.arch.kind else {
            self.report(
                Diagnostic::error("E0224", "A network is defined by a constructor call such as `mlp(hidden: [20, 20], activation: tanh)`.")
                    .with_primary(net.arch.span, "not a network constructor"),
            );
            return None;
        };
        let plain = callee.name.strip_prefix("nn.").unwrap_or(&callee.name);
        let Some(b) = builtins::lookup(plain).filter(|b| {
            matches!(
                b.kind,
                BuiltinKind::Mlp | BuiltinKind::Fno | BuiltinKind::DeepOnet
            )
        }) else {
            self.report(
                Diagnostic::error(
                    "E0224",
                    format!("`{}` is not a network constructor.", callee.name),
                )
                .with_primary(callee.span, "unknown network kind")
                .with_help(
                    "the network constructors are: mlp, fno and deeponet (from `use nn.{mlp, fno, deeponet}`)",
                ),
            );
            return None;
        };
        if !callee.name.starts_with("nn.") && !self.is_imported(b.name) {
            self.missing_import(b, callee.span);
            ok = false;
        }
        let inputs = net.args.iter().map(|a| a.name.clone()).collect();
        let name = net.name.name.clone();
        if b.kind == BuiltinKind::Mlp {
            let mlp = self.mlp_options(net, args);
            return mlp
                .filter(|_| ok)
                .map(|(hidden, outputs, activation, seed, init)| NetHir {
                    name,
                    inputs,
                    hidden,
                    outputs,
                    activation,
                    seed,
                    init,
                    operator: None,
                    span,
                });
        }
        ok &= self.one_operator_input(net);
        let operator = if b.kind == BuiltinKind::Fno {
            self.fno_options(args)
                .map(|(f, seed)| (OperatorHir::Fno(f), seed))
        } else {
            self.deeponet_options(args)
                .map(|(d, seed)| (OperatorHir::DeepOnet(d), seed))
        };
        let (operator, seed) = operator.filter(|_| ok)?;
        Some(NetHir {
            name,
            inputs,
            hidden: Vec::new(),
            outputs: 1,
            activation: Activation::Gelu,
            seed,
            init: Init::Glorot,
            operator: Some(operator),
            span,
        })
    }

    /// `mlp`'s options: hidden sizes (required), outputs, activation, seed, initialisation.
    fn mlp_options(
        &mut self,
        net: &ast::Net,
        args: &[ast::Arg],
    ) -> Option<(Vec<usize>, usize, Activation, u64, Init)> {
        let (options, mut ok) =
            self.named_options("mlp", "mlp(hidden: [20, 20], activation: tanh)", args);
        let mut hidden = None;
        let mut activation = Activation::Tanh;
        let mut outputs = 1usize;
        let mut seed = 0u64;
        let mut init = Init::Glorot;
        for (key, value) in &options {
            let set = match key.name.as_str() {
                "hidden" => self.hidden_sizes(value).map(|h| hidden = Some(h)),
                "activation" => self.activation_option(value).map(|a| activation = a),
                "outputs" => match self.const_int(value, "The number of outputs") {
                    Some(n) if n >= 1 => {
                        outputs = n as usize;
                        Some(())
                    }
                    Some(n) => {
                        self.report(
                            Diagnostic::error(
                                "E0224",
                                format!("A network needs at least one output, not {n}."),
                            )
                            .with_primary(value.span, format!("= {n}")),
                        );
                        None
                    }
                    None => None,
                },
                "seed" => self.seed_option(value).map(|s| seed = s),
                "init" => self
                    .choice_option(
                        value,
                        builtins::INITS,
                        "Unknown weight initialisation.",
                        ("not an initialisation", "the initialisations"),
                    )
                    .map(|i| init = i),
                other => {
                    self.unknown_option("mlp", key, other, builtins::MLP_OPTIONS);
                    None
                }
            };
            ok &= set.is_some();
        }
        if !options.iter().any(|(k, _)| k.name == "hidden") {
            self.report(
                Diagnostic::error("E0224", "`mlp` needs the sizes of its hidden layers.")
                    .with_primary(net.arch.span, "no `hidden` option")
                    .with_help("add `hidden: [20, 20]`"),
            );
            ok = false;
        }
        let hidden = hidden?;
        ok.then_some((hidden, outputs, activation, seed, init))
    }

    /// The options of `fno(modes: 16, width: 64, layers: 4, projection: 128, seed: 0)` and
    /// its seed.
    fn fno_options(&mut self, args: &[ast::Arg]) -> Option<(FnoHir, u64)> {
        let (options, mut ok) =
            self.named_options("fno", "fno(modes: 16, width: 64, layers: 4)", args);
        let mut fno = FnoHir {
            modes: 16,
            width: 64,
            layers: 4,
            projection: 128,
            grids: Vec::new(),
        };
        let mut seed = 0u64;
        for (key, value) in &options {
            let set = match key.name.as_str() {
                "modes" => self
                    .count_option(value, "The number of modes")
                    .map(|n| fno.modes = n),
                "width" => self.count_option(value, "The width").map(|n| fno.width = n),
                "layers" => self
                    .count_option(value, "The number of layers")
                    .map(|n| fno.layers = n),
                "projection" => self
                    .count_option(value, "The projection's width")
                    .map(|n| fno.projection = n),
                "seed" => self.seed_option(value).map(|s| seed = s),
                other => {
                    self.unknown_option("fno", key, other, builtins::FNO_OPTIONS);
                    None
                }
            };
            ok &= set.is_some();
        }
        ok.then_some((fno, seed))
    }

    /// The options of `deeponet(branch: [128, 128], trunk: [128, 128], features: 128,
    /// activation: tanh, seed: 0)` and its seed.
    fn deeponet_options(&mut self, args: &[ast::Arg]) -> Option<(DeepOnetHir, u64)> {
        let (options, mut ok) = self.named_options(
            "deeponet",
            "deeponet(branch: [128, 128], trunk: [128, 128])",
            args,
        );
        let mut d = DeepOnetHir {
            branch: vec![128, 128],
            trunk: vec![128, 128],
            features: 128,
            activation: Activation::Tanh,
            grids: Vec::new(),
        };
        let mut seed = 0u64;
        for (key, value) in &options {
            let set = match key.name.as_str() {
                "branch" => self.hidden_sizes(value).map(|h| d.branch = h),
                "trunk" => self.hidden_sizes(value).map(|h| d.trunk = h),
                "features" => self
                    .count_option(value, "The number of features")
                    .map(|n| d.features = n),
                "activation" => self.activation_option(value).map(|a| d.activation = a),
                "seed" => self.seed_option(value).map(|s| seed = s),
                other => {
                    self.unknown_option("deeponet", key, other, builtins::DEEPONET_OPTIONS);
                    None
                }
            };
            ok &= set.is_some();
        }
        ok.then_some((d, seed))
    }

    /// An operator declares one input, the function on the grid; reports otherwise.
    fn one_operator_input(&mut self, net: &ast::Net) -> bool {
        if net.args.len() <= 1 {
            return true;
        }
        self.report(
            Diagnostic::error(
                "E0224",
                format!(
                    "A neural operator takes one input, a function on a grid, but `{}` declares {}.",
                    net.name.name,
                    net.args.len()
                ),
            )
            .with_primary(net.name.span, "several inputs")
            .with_help(format!(
                "declare one: `net {}(a) = …`, called as `{}(data.a)`",
                net.name.name, net.name.name
            )),
        );
        false
    }

    /// A constructor's options as `(name, value)`, each once; an unnamed argument (E0305,
    /// with `example`) or a repeated name (E0219) is reported and left out. The flag is
    /// false when one was.
    fn named_options<'a>(
        &mut self,
        ctor: &str,
        example: &str,
        args: &'a [ast::Arg],
    ) -> (Vec<(&'a ast::Ident, &'a Expr)>, bool) {
        let mut ok = true;
        let mut options: Vec<(&ast::Ident, &Expr)> = Vec::new();
        for a in args {
            let Some(key) = &a.name else {
                self.report(
                    Diagnostic::error(
                        "E0305",
                        format!("The options of `{ctor}` are named: `{example}`."),
                    )
                    .with_primary(a.value.span, "unnamed argument"),
                );
                ok = false;
                continue;
            };
            if let Some((prev, _)) = options.iter().find(|(k, _)| k.name == key.name) {
                self.report(
                    Diagnostic::error(
                        "E0219",
                        format!("The option `{}` is given twice.", key.name),
                    )
                    .with_primary(key.span, "again here")
                    .with_secondary(prev.span, "first here"),
                );
                ok = false;
                continue;
            }
            options.push((key, &a.value));
        }
        (options, ok)
    }

    /// `ctor` has no option `name`: the list, and the nearest one.
    fn unknown_option(&mut self, ctor: &str, key: &ast::Ident, name: &str, options: &[&str]) {
        let mut d = Diagnostic::error("E0219", format!("`{ctor}` has no option `{name}`."))
            .with_primary(key.span, "unknown option")
            .with_note(format!("its options are: {}", options.join(", ")));
        if let Some(s) = did_you_mean(name, options.iter().copied()) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.report(d);
    }

    /// `seed: 42`: a whole number ≥ 0.
    fn seed_option(&mut self, value: &Expr) -> Option<u64> {
        match self.const_int(value, "The seed")? {
            n if n >= 0 => Some(n as u64),
            n => {
                self.report(
                    Diagnostic::error(
                        "E0224",
                        format!("The seed must be a whole number ≥ 0, not {n}."),
                    )
                    .with_primary(value.span, format!("= {n}")),
                );
                None
            }
        }
    }

    /// A size such as `modes: 16`: a whole number from 1 to 100000.
    fn count_option(&mut self, value: &Expr, what: &str) -> Option<usize> {
        match self.const_int(value, what)? {
            n if (1..=100_000).contains(&n) => Some(n as usize),
            n => {
                self.report(
                    Diagnostic::error(
                        "E0224",
                        format!("{what} must be a whole number from 1 to 100000, not {n}."),
                    )
                    .with_primary(value.span, format!("= {n}")),
                );
                None
            }
        }
    }

    /// `activation: tanh`: one of [`builtins::ACTIVATIONS`].
    fn activation_option(&mut self, value: &Expr) -> Option<Activation> {
        self.choice_option(
            value,
            builtins::ACTIVATIONS,
            "Unknown activation function.",
            ("not an activation", "the activations"),
        )
    }

    /// A name from `table` (`init: he`); otherwise `message`, labelled `label`, with the
    /// names (`"{list} are: …"`) and the nearest one.
    fn choice_option<T: Copy>(
        &mut self,
        value: &Expr,
        table: &[(&str, T)],
        message: &str,
        (label, list): (&str, &str),
    ) -> Option<T> {
        if let ExprKind::Name(id) = &value.kind
            && let Some((_, x)) = table.iter().find(|(n, _)| *n == id.name)
        {
            return Some(*x);
        }
        let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
        let mut d = Diagnostic::error("E0224", message)
            .with_primary(value.span, label)
            .with_note(format!("{list} are: {}", names.join(", ")));
        if let ExprKind::Name(id) = &value.kind
            && let Some(s) = did_you_mean(&id.name, names.iter().copied())
        {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.report(d);
        None
    }

    /// `hidden: [20, 20]`: positive whole numbers.
    fn hidden_sizes(&mut self, e: &Expr) -> Option<Vec<usize>> {
        let v = self.expr(e)?;
        let t = self.fold_val(&v, "The hidden layer sizes")?;
        let ok_shape =
            t.shape.len() == 1 || (t.shape.is_empty() && matches!(e.kind, ExprKind::Array(_)));
        if !ok_shape
            || t.data
                .iter()
                .any(|x| x.fract() != 0.0 || *x < 1.0 || *x > 1e7)
        {
            self.report(
                Diagnostic::error("E0224", "The hidden layer sizes must be a list of whole numbers ≥ 1, such as `[20, 20]`.")
                    .with_primary(e.span, "invalid layer sizes"),
            );
            return None;
        }
        Some(t.data.iter().map(|x| *x as usize).collect())
    }
}
