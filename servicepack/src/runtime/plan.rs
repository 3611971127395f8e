//! The dependency graph: which service waits for which, checked before anything starts.
//!
//! A [`Plan`] is built from `(name, dependencies)` pairs in one pass over the input and
//! one hash table of node numbers by name; after that everything is index based. Edges are kept
//! in compressed form (one flat `Vec` of targets plus an offset per node, for both
//! directions), so a plan of 10,000 services costs a handful of allocations, and the
//! runtime walks "who depends on me" and "whom do I depend on" without hashing.
//!
//! Checks, in order: an empty set ([`PlanError::Empty`]), a name given twice
//! ([`PlanError::Duplicate`]), a dependency cycle ([`PlanError::Cycle`], found by Kahn's
//! algorithm; when some nodes are left over, following any left-over dependency from a
//! left-over node must run into a cycle, which gives the path in linear time). A
//! dependency on a name that is not in the set is not an error: it is listed in
//! [`Plan::external`] and its edge dropped, because that service runs in another process.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use hashbrown::{HashTable, hash_table};

use crate::context::ReadyLatch;
use crate::runtime::signal::Signal;

/// Why a set of services cannot run: the graph is empty, has a name twice, or has a cycle.
///
/// # Examples
///
/// ```
/// use servicepack::{PlanError, Runner, ServiceDef};
/// use servicepack::prelude::*;
///
/// struct Idle;
/// impl Service for Idle {
///     async fn run(&self, ctx: Context) -> Result<()> {
///         ctx.cancelled().await;
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let report = Runner::new()
///     .service(ServiceDef::new("a", Idle).depends_on(["b"]))
///     .service(ServiceDef::new("b", Idle).depends_on(["a"]))
///     .run()
///     .await;
/// assert_eq!(report.exit_code(), 1);
/// assert_eq!(report.reason().unwrap(), "dependency cycle: a -> b -> a");
/// # });
/// let _ = PlanError::Empty;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// There is no service to run.
    #[error(
        "no services to run: none is registered (add `#[service]` to a type) or enabled (check SERVICES_ENABLED)"
    )]
    Empty,
    /// Two services have the same name.
    #[error("duplicate service name `{name}`: service names must be unique; rename one of them")]
    Duplicate {
        /// The name given twice.
        name: String,
    },
    /// Services depend on each other in a loop, so none of them could start first.
    #[error("dependency cycle: {}", CyclePath(.path))]
    Cycle {
        /// The services on the cycle, the first one repeated at the end: `[a, b, a]` means
        /// `a` depends on `b`, which depends on `a`.
        path: Vec<String>,
    },
}

struct CyclePath<'a>(&'a [String]);

impl fmt::Display for CyclePath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// Node numbers by name, for the planning only: a table of 4-byte node numbers, hashed
/// by the name each stands for (FNV-1a: names are short and not attacker-chosen, so a
/// simple hash beats `SipHash`). For 10,000 services that is 80 KB, where a map from
/// name to index would be 400 KB.
struct NameIndex {
    table: HashTable<u32>,
}

impl NameIndex {
    /// The index of `names`, or the first name given twice.
    fn new(names: &[Cow<'static, str>]) -> Result<Self, PlanError> {
        let mut table = HashTable::with_capacity(names.len());
        for (node, name) in names.iter().enumerate() {
            let hash = fnv(name);
            let found = table.entry(
                hash,
                |&other: &u32| names[other as usize] == *name,
                |&other: &u32| fnv(&names[other as usize]),
            );
            match found {
                hash_table::Entry::Vacant(slot) => {
                    // Fewer than 2^32 services (nodes are `u32` at run time too).
                    let node = u32::try_from(node).expect("fewer than 2^32 services");
                    slot.insert(node);
                }
                hash_table::Entry::Occupied(_) => {
                    return Err(PlanError::Duplicate {
                        name: name.to_string(),
                    });
                }
            }
        }
        Ok(Self { table })
    }

    /// The node called `name`, if any.
    fn get(&self, names: &[Cow<'static, str>], name: &str) -> Option<usize> {
        self.table
            .find(fnv(name), |&node| names[node as usize] == name)
            .map(|&node| node as usize)
    }
}

/// FNV-1a of `name`.
fn fnv(name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in name.as_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Service names by node, with each service's stop signal: shared with every
/// [`Context`](crate::Context) of the run, which reaches both through this one pointer.
pub(crate) type Names = Arc<Roster>;

/// What [`Names`] points to.
#[derive(Debug)]
pub(crate) struct Roster {
    names: Vec<Cow<'static, str>>,
    /// Per node: set when the service's turn to stop comes.
    signals: Box<[Signal]>,
    /// Per node: the "ready" of a `notify_ready` service ([`Roster::latch_of`]); made
    /// when the first such service starts, so a run without one never has them.
    latches: OnceLock<Box<[ReadyLatch]>>,
}

impl Roster {
    /// `names`, each with a signal not set.
    pub(crate) fn new(names: Vec<Cow<'static, str>>) -> Self {
        Self {
            signals: names.iter().map(|_| Signal::default()).collect(),
            names,
            latches: OnceLock::new(),
        }
    }

    /// `names` without signals, for contexts that carry a token of their own.
    pub(crate) fn unsignalled(names: Vec<Cow<'static, str>>) -> Self {
        Self {
            names,
            signals: Box::default(),
            latches: OnceLock::new(),
        }
    }

    /// Node `node`'s readiness latch, if [`latch_of`](Self::latch_of) made them.
    pub(crate) fn latch(&self, node: usize) -> Option<&ReadyLatch> {
        self.latches.get().and_then(|latches| latches.get(node))
    }

    /// Node `node`'s readiness latch, made (for every node) on first use: by the
    /// supervisor of a `notify_ready` service before it calls `run`, whose context
    /// finds it then.
    pub(crate) fn latch_of(&self, node: usize) -> &ReadyLatch {
        &self
            .latches
            .get_or_init(|| self.names.iter().map(|_| ReadyLatch::default()).collect())[node]
    }

    /// The name of node `node`.
    pub(crate) fn name(&self, node: usize) -> &str {
        &self.names[node]
    }

    /// The stop signal of node `node`.
    pub(crate) fn signal(&self, node: usize) -> &Signal {
        &self.signals[node]
    }

    fn len(&self) -> usize {
        self.names.len()
    }
}

/// Edges of one direction in compressed form: node `i`'s targets are
/// `targets[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, Default)]
struct Adjacency {
    offsets: Vec<usize>,
    targets: Vec<usize>,
}

impl Adjacency {
    fn of(&self, node: usize) -> &[usize] {
        &self.targets[self.offsets[node]..self.offsets[node + 1]]
    }
}

/// A checked dependency graph: nodes in input order, edges, external dependencies and a
/// start order. It owns the names (moved in, not copied), and the runtime shares it with
/// every [`Context`](crate::Context), which names its service by index. Nodes are named
/// by their index (`0..len()`), in the order given to [`Plan::new`].
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Shared with every [`Context`](crate::Context) of the run (one pointer each).
    names: Names,
    /// Node → the nodes it depends on (in the order first named, duplicates removed).
    deps: Adjacency,
    /// Node → the nodes that depend on it (in input order).
    dependents: Adjacency,
    /// (node, dependency name) for dependencies that are not in the set.
    external: Vec<(usize, Box<str>)>,
    /// A topological order: every node comes after all of its dependencies.
    order: Vec<usize>,
}

impl Plan {
    /// Builds and checks the graph from `(name, dependencies)` pairs.
    ///
    /// # Errors
    ///
    /// [`PlanError::Empty`] for no pairs, [`PlanError::Duplicate`] for the first name
    /// given twice, [`PlanError::Cycle`] with the path of one cycle.
    pub(crate) fn new<N, D>(nodes: impl IntoIterator<Item = (N, D)>) -> Result<Self, PlanError>
    where
        N: Into<Cow<'static, str>>,
        D: IntoIterator,
        D::Item: AsRef<str>,
    {
        // The dependency lists are kept as given (they usually borrow from the caller)
        // until every name is known: no copy of a dependency name.
        let nodes = nodes.into_iter();
        let mut names: Vec<Cow<'static, str>> = Vec::with_capacity(nodes.size_hint().0);
        let mut dep_lists: Vec<D> = Vec::with_capacity(nodes.size_hint().0);
        for (name, deps) in nodes {
            names.push(name.into());
            dep_lists.push(deps);
        }
        if names.is_empty() {
            return Err(PlanError::Empty);
        }

        let index = NameIndex::new(&names)?;

        let n = names.len();
        // No room reserved for the targets: most services have no dependency within the
        // set, and a large flat set would pay for room it never uses.
        let mut deps = Adjacency {
            offsets: Vec::with_capacity(n + 1),
            targets: Vec::new(),
        };
        deps.offsets.push(0);
        let mut external = Vec::new();
        let mut in_degree = vec![0usize; n];
        for (node, list) in dep_lists.into_iter().enumerate() {
            let first = deps.targets.len();
            for dep in list {
                let dep = dep.as_ref();
                match index.get(&names, dep) {
                    // Lists are short: a linear scan for repeats beats a set.
                    Some(target) if !deps.targets[first..].contains(&target) => {
                        deps.targets.push(target);
                        in_degree[target] += 1;
                    }
                    Some(_) => {}
                    None => external.push((node, Box::from(dep))),
                }
            }
            deps.offsets.push(deps.targets.len());
        }
        drop(index);

        let dependents = reverse(&deps, &in_degree);
        let order = topological_order(&deps, &dependents);
        if order.len() < n {
            let path = find_cycle(&deps, &order, n);
            return Err(PlanError::Cycle {
                path: path.into_iter().map(|i| names[i].to_string()).collect(),
            });
        }
        Ok(Self {
            names: Arc::new(Roster::new(names)),
            deps,
            dependents,
            external,
            order,
        })
    }

    /// The names, by node.
    pub(crate) fn names(&self) -> &Names {
        &self.names
    }

    /// The number of services.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// The name of node `node`.
    pub(crate) fn name(&self, node: usize) -> &str {
        self.names.name(node)
    }

    /// The index of the node called `name`, if any (a linear search).
    #[cfg(test)]
    fn index_of(&self, name: &str) -> Option<usize> {
        self.names.names.iter().position(|n| &**n == name)
    }

    /// The nodes that `node` depends on (within the set).
    pub(crate) fn dependencies(&self, node: usize) -> &[usize] {
        self.deps.of(node)
    }

    /// The nodes that depend on `node`.
    pub(crate) fn dependents(&self, node: usize) -> &[usize] {
        self.dependents.of(node)
    }

    /// `(service, dependency)` pairs whose dependency is not in the set: it runs in
    /// another process (or is not enabled), so the edge is dropped.
    pub(crate) fn external(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.external
            .iter()
            .map(|(node, dep)| (self.name(*node), &**dep))
    }

    /// `(node, dependency)` pairs whose dependency is not in the set, by node.
    pub(crate) fn external_edges(&self) -> impl Iterator<Item = (usize, &str)> {
        self.external.iter().map(|(node, dep)| (*node, &**dep))
    }

    /// The dependencies of `node` that are not in the set.
    pub(crate) fn external_of(&self, node: usize) -> impl Iterator<Item = &str> {
        self.external
            .iter()
            .filter(move |(of, _)| *of == node)
            .map(|(_, dep)| &**dep)
    }

    /// A start order: every node comes after all of its dependencies. Among nodes that
    /// could go in either order, input order wins, so the result is deterministic.
    pub(crate) fn order(&self) -> &[usize] {
        &self.order
    }
}

/// The reverse adjacency, built with a counting sort (in-degrees are the bucket sizes),
/// so each node's dependents come out in input order.
fn reverse(deps: &Adjacency, in_degree: &[usize]) -> Adjacency {
    let n = in_degree.len();
    let mut offsets = Vec::with_capacity(n + 1);
    let mut total = 0;
    offsets.push(0);
    for &d in in_degree {
        total += d;
        offsets.push(total);
    }
    let mut fill = offsets[..n].to_vec();
    let mut targets = vec![0; total];
    for node in 0..n {
        for &dep in deps.of(node) {
            targets[fill[dep]] = node;
            fill[dep] += 1;
        }
    }
    Adjacency { offsets, targets }
}

/// Kahn's algorithm with a FIFO queue seeded in input order.
fn topological_order(deps: &Adjacency, dependents: &Adjacency) -> Vec<usize> {
    let n = deps.offsets.len() - 1;
    let mut pending: Vec<usize> = (0..n).map(|node| deps.of(node).len()).collect();
    let mut order: Vec<usize> = Vec::with_capacity(n);
    order.extend((0..n).filter(|&node| pending[node] == 0));
    let mut next = 0;
    while next < order.len() {
        let node = order[next];
        next += 1;
        for &dependent in dependents.of(node) {
            pending[dependent] -= 1;
            if pending[dependent] == 0 {
                order.push(dependent);
            }
        }
    }
    order
}

/// One cycle among the nodes Kahn's algorithm could not order. Every such node has a
/// dependency that is also left over, so walking left-over dependencies must revisit a
/// node; the walk from that node back to itself is the cycle. The path starts at the
/// cycle's first node in input order, and ends with it again.
fn find_cycle(deps: &Adjacency, ordered: &[usize], n: usize) -> Vec<usize> {
    let mut done = vec![false; n];
    for &node in ordered {
        done[node] = true;
    }
    let start = (0..n).find(|&node| !done[node]).unwrap_or_default();
    // Position of each node on the walk, to find where the walk closes.
    let mut seen_at: Vec<Option<usize>> = vec![None; n];
    let mut walk = Vec::new();
    let mut node = start;
    while seen_at[node].is_none() {
        seen_at[node] = Some(walk.len());
        walk.push(node);
        node = deps
            .of(node)
            .iter()
            .copied()
            .find(|&dep| !done[dep])
            .unwrap_or(node);
    }
    let mut cycle = walk.split_off(seen_at[node].unwrap_or_default());
    let first = cycle
        .iter()
        .enumerate()
        .min_by_key(|&(_, &node)| node)
        .map_or(0, |(i, _)| i);
    cycle.rotate_left(first);
    cycle.push(cycle[0]);
    cycle
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(nodes: &[(&'static str, &[&str])]) -> Result<Plan, PlanError> {
        Plan::new(nodes.iter().map(|&(name, deps)| (name, deps.iter())))
    }

    #[test]
    fn empty_set_is_an_error() {
        assert_eq!(plan(&[]).unwrap_err(), PlanError::Empty);
    }

    #[test]
    fn duplicate_names_are_reported() {
        let err = plan(&[("a", &[]), ("b", &[]), ("a", &[])]).unwrap_err();
        assert_eq!(err, PlanError::Duplicate { name: "a".into() });
        assert!(err.to_string().contains("`a`"));
    }

    #[test]
    fn self_dependency_is_a_cycle() {
        let err = plan(&[("a", &["a"])]).unwrap_err();
        assert_eq!(err.to_string(), "dependency cycle: a -> a");
    }

    #[test]
    fn cycle_path_is_named_from_its_first_node() {
        let err = plan(&[("x", &["c"]), ("c", &["a"]), ("a", &["b"]), ("b", &["c"])]).unwrap_err();
        assert_eq!(err.to_string(), "dependency cycle: c -> a -> b -> c");
    }

    #[test]
    fn externals_are_listed_and_dropped() {
        let plan = plan(&[("api", &["db", "cache"]), ("db", &[])]).unwrap();
        assert_eq!(plan.external().collect::<Vec<_>>(), [("api", "cache")]);
        assert_eq!(plan.dependencies(0), [1]);
        assert_eq!(plan.order(), [1, 0]);
    }

    #[test]
    fn repeated_dependencies_are_one_edge() {
        let plan = plan(&[("a", &["b", "b"]), ("b", &[])]).unwrap();
        assert_eq!(plan.dependencies(0), [1]);
        assert_eq!(plan.dependents(1), [0]);
    }

    #[test]
    fn order_puts_dependencies_first() {
        let plan = plan(&[("d", &["b", "c"]), ("c", &["a"]), ("b", &["a"]), ("a", &[])]).unwrap();
        let position = |name| {
            let node = plan.index_of(name).unwrap();
            plan.order().iter().position(|&n| n == node).unwrap()
        };
        assert!(position("a") < position("b"));
        assert!(position("a") < position("c"));
        assert!(position("b") < position("d"));
        assert!(position("c") < position("d"));
    }

    #[test]
    fn ten_thousand_node_chain_plans() {
        let names: Vec<String> = (0..10_000).map(|i| format!("s{i}")).collect();
        let plan = Plan::new(names.iter().enumerate().map(|(i, name)| {
            let deps: Vec<&str> = if i == 0 {
                vec![]
            } else {
                vec![names[i - 1].as_str()]
            };
            (name.clone(), deps)
        }))
        .unwrap();
        assert_eq!(plan.order().len(), 10_000);
        assert_eq!(plan.order()[9_999], 9_999);
    }
}
