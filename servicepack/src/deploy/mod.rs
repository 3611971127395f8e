//! `./app deploy <target>`: one unit per service, so that each service of the binary can
//! run on its own under systemd, runit, daemontools, s6, docker compose, docker swarm or
//! Kubernetes.
//!
//! The work splits in three: [`model`] reads the registry and the flags once and checks
//! them; each renderer is a pure function from that [`Model`] to a list of
//! [`Artifact`]s (a relative path and its text), so the same registry and flags give
//! byte-identical files and the renderers are tested without touching a disk; [`write`](mod@write)
//! is the only part that writes, and it holds the file-safety rules. [`cli`] glues them
//! to the command line.

pub(crate) mod cli;
mod compose;
mod dockerfile;
mod kubernetes;
pub(crate) mod model;
mod supervise;
mod systemd;
pub(crate) mod write;
mod yaml;

#[cfg(test)]
mod tests;

pub(crate) use model::Model;

/// What `deploy` writes units for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// `<app>-<svc>.service` units and an `<app>.target`.
    Systemd,
    /// runit service directories (`runsvdir`).
    Runit,
    /// daemontools service directories (`svscan`).
    Daemontools,
    /// s6 service directories (`s6-svscan`).
    S6,
    /// One `compose.yaml` and a `Dockerfile`.
    Compose,
    /// One `stack.yaml` for `docker stack deploy` and a `Dockerfile`.
    Swarm,
    /// One `<app>.yaml` of Deployments and Services, and a `Dockerfile`.
    Kubernetes,
}

impl Target {
    /// Every target, in the order `--help` lists them.
    pub(crate) const ALL: [Self; 7] = [
        Self::Systemd,
        Self::Runit,
        Self::Daemontools,
        Self::S6,
        Self::Compose,
        Self::Swarm,
        Self::Kubernetes,
    ];

    /// The name on the command line.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Systemd => "systemd",
            Self::Runit => "runit",
            Self::Daemontools => "daemontools",
            Self::S6 => "s6",
            Self::Compose => "compose",
            Self::Swarm => "swarm",
            Self::Kubernetes => "kubernetes",
        }
    }

    /// The target named `name`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|target| target.as_str() == name)
    }
}

/// One file to write: a path relative to the output directory, and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Artifact {
    /// Relative, `/`-separated, without `.` or `..`.
    pub(crate) path: String,
    /// The whole text of the file.
    pub(crate) contents: String,
    /// A script the supervisor runs (mode 0755 instead of 0644).
    pub(crate) executable: bool,
}

impl Artifact {
    /// A plain file.
    pub(crate) fn file(path: impl Into<String>, contents: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            contents: contents.into(),
            executable: false,
        }
    }

    /// A script.
    pub(crate) fn script(path: impl Into<String>, contents: impl Into<String>) -> Self {
        Self {
            executable: true,
            ..Self::file(path, contents)
        }
    }
}

/// The files of `model.target`, sorted by path.
pub(crate) fn render(model: &Model) -> Vec<Artifact> {
    let mut files = match model.target {
        Target::Systemd => systemd::render(model),
        Target::Runit | Target::Daemontools | Target::S6 => supervise::render(model),
        Target::Compose | Target::Swarm => {
            let mut files = compose::render(model);
            files.push(dockerfile::render(model));
            files
        }
        Target::Kubernetes => vec![kubernetes::render(model), dockerfile::render(model)],
    };
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}
