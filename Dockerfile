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

# Runtime stage: nothing but the binary, run as an unprivileged user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/meridian /usr/local/bin/meridian
# Config and zones come from volumes:
#   docker run -v ./conf:/etc/meridian:ro -v ./zones:/var/lib/meridian/zones:ro \
#     -p 53:53/udp -p 53:53/tcp meridian
# with dns.listen: ["0.0.0.0:53"] and zones.dir: /var/lib/meridian/zones in
# the mounted meridian.yaml. The non-root user can bind port 53 because
# Docker sets net.ipv4.ip_unprivileged_port_start=0 in the container.
VOLUME ["/etc/meridian", "/var/lib/meridian"]
EXPOSE 53/udp 53/tcp
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/meridian"]
CMD ["serve", "--config", "/etc/meridian/meridian.yaml"]
