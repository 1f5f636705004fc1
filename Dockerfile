# syntax=docker/dockerfile:1
#
# Playbook in a container: a static binary on a distroless base, run as a
# non-root user, with the embedded store's data in the /data volume.
#
#   docker build -t playbook .
#   docker run -p 8080:8080 -v playbook-data:/data playbook
#
# Your own playbooks: -v ./playbooks:/playbooks:ro. With Redis instead of
# the embedded store, see docker-compose.yml. Every option of
# `playbook serve` can be set as PLAYBOOK_<NAME> (see docs/operations.md).

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/playbook ./cmd/playbook \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/playbook /usr/local/bin/playbook
COPY --from=build /src/playbooks /playbooks
# The volume's first mount copies this empty directory, owned by nonroot.
COPY --from=build --chown=65532:65532 /out/data /data
ENV PLAYBOOK_ADDR=0.0.0.0:8080 \
    PLAYBOOK_PLAYBOOKS=/playbooks \
    PLAYBOOK_DATA=/data
USER 65532:65532
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["playbook", "healthcheck"]
ENTRYPOINT ["playbook"]
CMD ["serve"]
