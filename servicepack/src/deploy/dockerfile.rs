//! The `Dockerfile` of the container targets: the statically linked binary on an empty
//! image (`FROM scratch`: nothing to patch, and no registry needed to build it), with a
//! `HEALTHCHECK` that asks the binary's own `health` command, so the image needs no curl.

use super::Artifact;
use super::compose::{HEALTH_INTERVAL, HEALTH_RETRIES, HEALTH_TIMEOUT};
use super::model::Model;
use super::yaml::list;

/// `nobody`: the image has no `/etc/passwd`, so the user is a number.
const USER: &str = "65534:65534";

pub(super) fn render(model: &Model) -> Artifact {
    let app = &model.app;
    let binary = &model.binary;
    let text = format!(
        "# {header}
# Put a statically linked `{app}` next to this file, then build (README, \"Deploying\"):
#   docker build -t {image} .
FROM scratch
COPY {app} {binary}
USER {USER}
ENV OPS_ADDR=0.0.0.0:{port}
ENTRYPOINT {entrypoint}
CMD [\"run\"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval={HEALTH_INTERVAL} --timeout={HEALTH_TIMEOUT} --retries={HEALTH_RETRIES} CMD {health}
",
        header = model.header(),
        image = model.image,
        port = model.port_base,
        entrypoint = list([binary.as_str()]),
        health = list([binary.as_str(), "health"]),
    );
    Artifact::file("Dockerfile", text)
}
