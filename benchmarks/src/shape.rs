//! The dependency graphs the benchmarks run, and the seeded generator behind the random one.

/// A dependency graph: node `i` depends on the nodes in `deps[i]`, which all come before
/// `i`, so index order is a start order.
#[derive(Debug, Clone)]
pub struct Shape {
    deps: Vec<Vec<usize>>,
}

impl Shape {
    /// `n` services and no dependencies.
    #[must_use]
    pub fn flat(n: usize) -> Self {
        Self {
            deps: vec![Vec::new(); n],
        }
    }

    /// `n` services, each depending on the one before it.
    #[must_use]
    pub fn chain(n: usize) -> Self {
        Self {
            deps: (0..n)
                .map(|i| if i == 0 { Vec::new() } else { vec![i - 1] })
                .collect(),
        }
    }

    /// `n` services in `layers` layers of equal width; each service outside the first
    /// layer depends on `fan_in` distinct services of the layer above it, drawn with a
    /// [`XorShift`] seeded with `seed` (the same seed gives the same graph).
    ///
    /// # Panics
    ///
    /// When `layers` is zero or does not divide `n`.
    #[must_use]
    pub fn layered(n: usize, layers: usize, fan_in: usize, seed: u64) -> Self {
        assert!(
            layers > 0 && n.is_multiple_of(layers),
            "{n} services do not split into {layers} equal layers"
        );
        let width = n / layers;
        let fan_in = fan_in.min(width);
        let mut rng = XorShift::new(seed);
        let deps = (0..n)
            .map(|node| {
                let layer = node / width;
                if layer == 0 {
                    return Vec::new();
                }
                let above = (layer - 1) * width;
                let mut picked = Vec::with_capacity(fan_in);
                while picked.len() < fan_in {
                    let dep = above + rng.below(width);
                    if !picked.contains(&dep) {
                        picked.push(dep);
                    }
                }
                picked
            })
            .collect();
        Self { deps }
    }

    /// The number of services.
    #[must_use]
    pub fn len(&self) -> usize {
        self.deps.len()
    }

    /// Whether there is no service.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// The services `node` depends on.
    #[must_use]
    pub fn dependencies(&self, node: usize) -> &[usize] {
        &self.deps[node]
    }

    /// For every node, the nodes that depend on it.
    #[must_use]
    pub fn dependents(&self) -> Vec<Vec<usize>> {
        let mut dependents = vec![Vec::new(); self.len()];
        for (node, deps) in self.deps.iter().enumerate() {
            for &dep in deps {
                dependents[dep].push(node);
            }
        }
        dependents
    }

    /// The service name of `node`.
    #[must_use]
    pub fn name(node: usize) -> String {
        format!("svc-{node:05}")
    }
}

/// Marsaglia's xorshift64: tiny, fast and deterministic, which is all a benchmark graph
/// needs (no `rand` crate).
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator seeded with `seed` (zero, which xorshift cannot leave, is replaced).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..bound` (with a negligible modulo bias for small bounds).
    ///
    /// # Panics
    ///
    /// When `bound` is zero.
    pub fn below(&mut self, bound: usize) -> usize {
        assert!(bound > 0, "empty range");
        let bound = u64::try_from(bound).unwrap_or(u64::MAX);
        usize::try_from(self.next_u64() % bound).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layered_graph_is_deterministic_and_points_one_layer_up() {
        let a = Shape::layered(1_000, 10, 5, 42);
        let b = Shape::layered(1_000, 10, 5, 42);
        for node in 0..a.len() {
            assert_eq!(a.dependencies(node), b.dependencies(node));
            let layer = node / 100;
            assert_eq!(a.dependencies(node).len(), if layer == 0 { 0 } else { 5 });
            for &dep in a.dependencies(node) {
                assert_eq!(dep / 100 + 1, layer);
            }
        }
    }

    #[test]
    fn chain_links_each_node_to_the_previous() {
        let chain = Shape::chain(3);
        assert_eq!(chain.dependencies(0), [] as [usize; 0]);
        assert_eq!(chain.dependencies(2), [1]);
        assert_eq!(chain.dependents()[0], [1]);
    }
}
