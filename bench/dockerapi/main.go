// Command dockerapi times the API layer alone: `docker run --rm --network none IMAGE true`
// as the docker CLI sends it through drover's Docker API (ping, create, attach, wait for
// removal, start, then the wait's answer), against `drover run --rm` as drover's CLI sends
// it through drover's own API (one create-start-attach request), both from this one
// process with clients made once, so neither CLI's start-up is counted. The two take
// turns in rounds of N runs so that the machine's drift hits both alike.
//
//	dockerapi -docker unix:///run/drover/docker.sock -drover /run/drover/drover.sock -image bench
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/moby/moby/api/types/container"
	docker "github.com/moby/moby/client"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
	"github.com/drover/drover/internal/stream"
)

func main() {
	dockerHost := flag.String("docker", "unix:///run/drover/docker.sock", "drover's Docker API socket")
	droverSock := flag.String("drover", "/run/drover/drover.sock", "drover's own API socket")
	image := flag.String("image", "bench", "image with /bin/true")
	rounds := flag.Int("rounds", 6, "rounds")
	n := flag.Int("n", 20, "runs of each per round")
	flag.Parse()
	ctx := context.Background()
	dc, err := docker.New(docker.WithHost(*dockerHost), docker.WithAPIVersionNegotiation())
	if err != nil {
		fail(err)
	}
	defer dc.Close()
	drv := client.New(*droverSock)
	defer drv.Close()

	runs := []struct {
		name string
		run  func() error
	}{
		{"Docker API (the docker CLI's requests)", func() error { return viaDocker(ctx, dc, *image) }},
		{"drover API (drover run's request)", func() error { return viaDrover(ctx, drv, *image) }},
	}
	for _, r := range runs { // warm-up
		for range 3 {
			if err := r.run(); err != nil {
				fail(fmt.Errorf("%s: %w", r.name, err))
			}
		}
	}
	all := make([][]time.Duration, len(runs))
	for round := 1; round <= *rounds; round++ {
		line := fmt.Sprintf("round %d:", round)
		for i, r := range runs {
			var sum time.Duration
			for range *n {
				t0 := time.Now()
				if err := r.run(); err != nil {
					fail(fmt.Errorf("%s: %w", r.name, err))
				}
				d := time.Since(t0)
				sum += d
				all[i] = append(all[i], d)
			}
			line += fmt.Sprintf(" %s %.2f ms;", r.name, ms(sum)/float64(*n))
		}
		fmt.Fprintln(os.Stderr, line)
	}
	fmt.Println("| path, from one process | mean | median | p90 |")
	fmt.Println("|---|---|---|---|")
	means := make([]float64, len(runs))
	for i, r := range runs {
		d := all[i]
		slices.Sort(d)
		var sum time.Duration
		for _, x := range d {
			sum += x
		}
		means[i] = ms(sum) / float64(len(d))
		fmt.Printf("| %s | %.1f ms | %.1f ms | %.1f ms |\n", r.name, means[i], ms(d[len(d)/2]), ms(d[len(d)*9/10]))
	}
	fmt.Printf("| ratio (target: at most 1.10x) | %.2fx | | |\n", means[0]/means[1])
}

// viaDocker sends what docker run --rm sends, in its order: ping, create, attach, a wait
// for the removal, start, then it reads the output to its end and takes the wait's answer.
func viaDocker(ctx context.Context, c *docker.Client, image string) error {
	if _, err := c.Ping(ctx, docker.PingOptions{}); err != nil {
		return err
	}
	created, err := c.ContainerCreate(ctx, docker.ContainerCreateOptions{
		Config:     &container.Config{Image: image, Cmd: []string{"true"}, AttachStdout: true, AttachStderr: true},
		HostConfig: &container.HostConfig{AutoRemove: true, NetworkMode: "none"},
	})
	if err != nil {
		return err
	}
	att, err := c.ContainerAttach(ctx, created.ID, docker.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return err
	}
	defer att.Close()
	wait := c.ContainerWait(ctx, created.ID, docker.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	if _, err := c.ContainerStart(ctx, created.ID, docker.ContainerStartOptions{}); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, att.Reader); err != nil {
		return err
	}
	select {
	case res := <-wait.Result:
		if res.StatusCode != 0 {
			return fmt.Errorf("exit code %d", res.StatusCode)
		}
		return nil
	case err := <-wait.Error:
		return err
	}
}

// viaDrover sends what drover run --rm sends: one request that creates, starts and
// attaches, then it reads the stream up to the exit code.
func viaDrover(ctx context.Context, c *client.Client, image string) error {
	conn, err := c.ContainerRun(ctx, api.ContainerConfig{
		Image: image, Cmd: []string{"true"},
		Host: api.HostConfig{AutoRemove: true, NetworkMode: "none"},
	}, client.AttachOptions{})
	if err != nil {
		return err
	}
	defer conn.Close()
	r := stream.NewReader(conn)
	for {
		kind, p, err := r.ReadFrame()
		if err != nil {
			return err
		}
		switch kind {
		case stream.Exit:
			code, err := stream.ParseExit(p)
			if err == nil && code != 0 {
				err = fmt.Errorf("exit code %d", code)
			}
			return err
		case stream.Error:
			return fmt.Errorf("%s", p)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dockerapi:", err)
	os.Exit(1)
}
