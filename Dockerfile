# Build stage: a static binary with the version embedded.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/meridiandns/meridian/internal/version.Version=${VERSION}" \
      -o /out/meridian ./cmd/meridian
# The state directory, made here: the runtime image has no shell.
RUN mkdir -p /out/state/mesh

# Runtime stage: nothing but the binary, run as an unprivileged user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/meridian /usr/local/bin/meridian
# /var/lib/meridian holds the state (state_dir: zone serials and last good
# copies; mesh.state_dir: drains, under mesh/). It belongs to the user the
# server runs as (65532, nonroot), and Docker fills a new volume, named or
# anonymous, from the image's directory, owner included, so a fresh volume
# is writable too. It must be made before VOLUME: what a build step does
# to a volume's directory after it is declared is not kept.
COPY --from=build --chown=65532:65532 /out/state/ /var/lib/meridian/
VOLUME ["/var/lib/meridian"]
# The config comes from a mount or an image built on this one
# (examples/deploy/Dockerfile):
#   docker run -v ./conf:/etc/meridian:ro -v meridian-state:/var/lib/meridian \
#     -p 53:53/udp -p 53:53/tcp meridian
# with dns.listen: ["0.0.0.0:53"], zones.dir: /etc/meridian/zones and
# state_dir: /var/lib/meridian in the mounted meridian.yaml. The non-root
# user can bind port 53 because Docker sets
# net.ipv4.ip_unprivileged_port_start=0 in the container.
EXPOSE 53/udp 53/tcp
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/meridian"]
CMD ["serve", "--config", "/etc/meridian/meridian.yaml"]
