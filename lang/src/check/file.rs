//! The file level: `use` declarations, file constants and functions, then each model.

use super::DefKind;
use super::deps::Graph;
use super::env::{Checker, ConstEntry, FnEntry, FnRef};
use super::model::fn_refs;
use super::suggest::did_you_mean;
use crate::ast::{self, ItemKind};
use crate::builtins;
use sci_diag::Diagnostic;
use std::collections::{HashMap, HashSet};

/// A file-level definition, as a node of the file's dependency graph.
#[derive(Clone, Copy)]
enum Node<'f> {
    Const(&'f ast::Decl),
    Fn(&'f ast::FnDecl),
}

impl<'f> Checker<'f> {
    /// Checks the whole file.
    pub fn check_file(&mut self) {
        self.prepare_file();
        let mut seen: HashMap<&str, sci_diag::Span> = HashMap::new();
        for item in &self.file.items {
            if let ItemKind::Model(m) = &item.kind {
                if let Some(prev) = seen.get(m.name.name.as_str()) {
                    self.report(
                        Diagnostic::error(
                            "E0202",
                            format!("There are two models called `{}`.", m.name.name),
                        )
                        .with_primary(m.name.span, "defined again here")
                        .with_secondary(*prev, "first defined here"),
                    );
                    continue;
                }
                seen.insert(&m.name.name, m.name.span);
                let before = self.diags.len();
                self.check_model(m, item.span);
                self.model_diags.push((item.span, before..self.diags.len()));
            }
        }
    }

    /// Resolves `use`s and checks file-level constants and functions, in dependency order.
    pub fn prepare_file(&mut self) {
        let file = self.file;
        let mut imports = HashSet::new();
        for item in &file.items {
            if let ItemKind::Use(u) = &item.kind {
                self.process_use(u, &mut imports);
            }
        }
        self.file_imports = imports;
        // Collect, reporting duplicates.
        let mut nodes: Vec<Node<'f>> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for item in &file.items {
            let (name, node) = match &item.kind {
                ItemKind::Const(d) => (&d.name, Node::Const(d)),
                ItemKind::Fn(f) => (&f.name, Node::Fn(f)),
                _ => continue,
            };
            if let Some(&prev) = index.get(&name.name) {
                let prev_span = match nodes.get(prev) {
                    Some(Node::Const(d)) => d.name.span,
                    Some(Node::Fn(f)) => f.name.span,
                    None => name.span,
                };
                self.report(
                    Diagnostic::error(
                        "E0202",
                        format!("`{}` is defined twice in this file.", name.name),
                    )
                    .with_primary(name.span, "defined again here")
                    .with_secondary(prev_span, "first defined here")
                    .with_help("every name is defined once; rename one of them"),
                );
                continue;
            }
            index.insert(name.name.clone(), nodes.len());
            nodes.push(node);
            match node {
                Node::Const(d) => {
                    self.file_units |= d.ty.as_ref().is_some_and(|t| t.unit.is_some());
                    self.define(&d.name.name, DefKind::Const, d.name.span, None);
                    self.file_consts.insert(
                        d.name.name.clone(),
                        ConstEntry {
                            decl: d,
                            value: None,
                        },
                    );
                }
                Node::Fn(f) => {
                    self.define(&f.name.name, DefKind::Fn, f.name.span, None);
                    self.file_fns.insert(
                        f.name.name.clone(),
                        FnEntry {
                            decl: f,
                            model: None,
                            sig: None,
                            broken: false,
                        },
                    );
                }
            }
        }
        // Order by dependencies.
        let mut graph = Graph::new(nodes.len());
        for (i, node) in nodes.iter().enumerate() {
            let mut refs = Vec::new();
            match node {
                Node::Const(d) => {
                    let mut bound = Vec::new();
                    for b in &d.index {
                        super::deps::free_names(&b.start, &mut bound, &mut refs);
                        super::deps::free_names(&b.end, &mut bound, &mut refs);
                    }
                    bound.extend(d.index.iter().map(|b| b.var.name.clone()));
                    super::deps::free_names(&d.value, &mut bound, &mut refs);
                }
                Node::Fn(f) => fn_refs(f, &mut refs),
            }
            for r in refs {
                if let Some(&t) = index.get(&r.name) {
                    graph.add(i, t, r.span);
                }
            }
        }
        let (order, cycles) = graph.order();
        let name_of = |i: usize| match nodes.get(i) {
            Some(Node::Const(d)) => Some((d.name.name.clone(), d.name.span)),
            Some(Node::Fn(f)) => Some((f.name.name.clone(), f.name.span)),
            None => None,
        };
        for cycle in cycles {
            self.report_cycle(&cycle, name_of);
            for (i, _) in &cycle {
                if let Some(Node::Fn(f)) = nodes.get(*i)
                    && let Some(e) = self.file_fns.get_mut(&f.name.name)
                {
                    e.broken = true;
                }
            }
        }
        for i in order {
            match nodes.get(i) {
                Some(Node::Const(d)) => self.check_const(d, false),
                Some(Node::Fn(f)) => self.check_fn(&FnRef::File(f.name.name.clone())),
                None => {}
            }
        }
    }

    /// A prelude function imported by name (`use nn.{silu}`) may not also be defined by a
    /// user `fn` where the import applies (the file, or the model of a model-level `use`):
    /// which one was meant is unclear. Without the `use` the user's `fn` silently shadows
    /// the prelude's.
    fn imported_and_defined(&mut self, n: &ast::Ident, module: &str) {
        if crate::prelude::lookup(&n.name).is_none() {
            return;
        }
        let file = self.file;
        let members_of = |m: &'f ast::Model| m.members.iter().map(|mem| &mem.kind);
        let mut fns: Vec<&ast::FnDecl> = Vec::new();
        let model_members: Option<&'f [ast::Member]> = self.model.as_ref().map(|m| m.members);
        for item in &file.items {
            match &item.kind {
                ItemKind::Fn(f) => fns.push(f),
                ItemKind::Model(m) if model_members.is_none() => {
                    fns.extend(members_of(m).filter_map(|k| match k {
                        ast::MemberKind::Fn(f) => Some(f),
                        _ => None,
                    }));
                }
                _ => {}
            }
        }
        for mem in model_members.unwrap_or_default() {
            if let ast::MemberKind::Fn(f) = &mem.kind {
                fns.push(f);
            }
        }
        if let Some(f) = fns.into_iter().find(|f| f.name.name == n.name) {
            self.report(
                Diagnostic::error(
                    "E0202",
                    format!(
                        "`{}` is imported from `{module}` and also defined here.",
                        n.name
                    ),
                )
                .with_primary(f.name.span, "defined here")
                .with_secondary(n.span, "imported here")
                .with_help(format!(
                    "remove `{}` from the `use` to use your own function, or rename your function",
                    n.name
                )),
            );
        }
    }

    /// `use nn.{mlp}` / `use nn.mlp` / `use nn`: adds the names to `imports`.
    pub fn process_use(&mut self, u: &ast::UseDecl, imports: &mut HashSet<String>) {
        let Some(first) = u.path.first() else {
            return;
        };
        let path: Vec<&str> = u.path.iter().map(|p| p.name.as_str()).collect();
        // `use nn.mlp` is written as the path `nn.mlp` with no list.
        let (module, names): (String, Vec<&ast::Ident>) = if u.names.is_empty() && u.path.len() >= 2
        {
            let last = u.path.last().map(|p| vec![p]).unwrap_or_default();
            (path[..path.len() - 1].join("."), last)
        } else {
            (path.join("."), u.names.iter().collect())
        };
        let Some(exports) = builtins::module_exports(&module) else {
            let mut d = Diagnostic::error("E0207", format!("There is no module `{module}`."))
                .with_primary(
                    first.span.to(u.path.last().map_or(first.span, |p| p.span)),
                    "unknown module",
                )
                .with_note(format!("the modules are: {}", builtins::MODULES.join(", ")));
            if let Some(s) = did_you_mean(&module, builtins::MODULES.iter().copied()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            self.report(d);
            return;
        };
        if names.is_empty() {
            imports.extend(exports.iter().map(|s| s.to_string()));
            return;
        }
        for n in names {
            if exports.contains(&n.name.as_str()) {
                imports.insert(n.name.clone());
                self.imported_and_defined(n, &module);
            } else {
                let mut d = Diagnostic::error(
                    "E0208",
                    format!("The module `{module}` has no `{}`.", n.name),
                )
                .with_primary(n.span, "not in this module")
                .with_note(format!("`{module}` provides: {}", exports.join(", ")));
                if let Some(s) = did_you_mean(&n.name, exports.iter().copied()) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.report(d);
            }
        }
    }
}
