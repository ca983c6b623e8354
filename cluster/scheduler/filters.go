package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// Reasons, worded as kube-scheduler words them; they end up in FitError
// messages that users and tools match on.
const (
	ReasonUnschedulable        = "node(s) were unschedulable"
	ReasonNodeName             = "node(s) didn't match the requested node name"
	ReasonTaint                = "node(s) had untolerated taint(s)"
	ReasonNodeAffinity         = "node(s) didn't match Pod's node affinity/selector"
	ReasonTooManyPods          = "Too many pods"
	ReasonSpread               = "node(s) didn't match pod topology spread constraints"
	ReasonSpreadLabel          = ReasonSpread + " (missing required label)"
	ReasonPodAffinity          = "node(s) didn't match pod affinity rules"
	ReasonPodAntiAffinity      = "node(s) didn't match pod anti-affinity rules"
	ReasonExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules"
	ReasonPreemptionNotHelpful = "Preemption is not helpful for scheduling"
	ReasonNoPreemptionVictims  = "No preemption victims found for incoming pod"
	insufficientPrefix         = "Insufficient "
)

// code is a filter verdict. Unresolvable failures are those preemption
// cannot fix.
type code uint8

const (
	codeSuccess code = iota
	codeUnschedulable
	codeUnresolvable
)

type status struct {
	code    code
	reasons []string
}

func fail(c code, reasons []string) status {
	return status{code: c, reasons: reasons}
}

// One-reason slices, allocated once: many nodes fail per pod.
var (
	reasonsUnschedulable        = []string{ReasonUnschedulable}
	reasonsNodeName             = []string{ReasonNodeName}
	reasonsTaint                = []string{ReasonTaint}
	reasonsNodeAffinity         = []string{ReasonNodeAffinity}
	reasonsSpread               = []string{ReasonSpread}
	reasonsSpreadLabel          = []string{ReasonSpreadLabel}
	reasonsPodAffinity          = []string{ReasonPodAffinity}
	reasonsPodAntiAffinity      = []string{ReasonPodAntiAffinity}
	reasonsExistingAntiAffinity = []string{ReasonExistingAntiAffinity}
	reasonsNoPreemptionVictims  = []string{ReasonNoPreemptionVictims}
	reasonsPreemptionNotHelpful = []string{ReasonPreemptionNotHelpful}
)

// filter runs the filters in kube-scheduler's order and returns the first
// failure. It reads the cache without locking: the caller holds c.mu.
func (cy *cycle) filter(n *nodeInfo) status {
	if st := cy.filterUnschedulable(n); st.code != codeSuccess {
		return st
	}
	if st := cy.filterNodeName(n); st.code != codeSuccess {
		return st
	}
	if st := cy.filterTaints(n); st.code != codeSuccess {
		return st
	}
	if st := cy.filterNodeAffinity(n); st.code != codeSuccess {
		return st
	}
	if st := cy.filterResources(n); st.code != codeSuccess {
		return st
	}
	if st := cy.filterSpread(n); st.code != codeSuccess {
		return st
	}
	return cy.filterInterPod(n)
}

// NodeUnschedulable: a cordoned node takes only pods tolerating the
// node.kubernetes.io/unschedulable taint.
func (cy *cycle) filterUnschedulable(n *nodeInfo) status {
	if n.unschedulable && !cy.tolUnschedulable {
		return fail(codeUnresolvable, reasonsUnschedulable)
	}
	return status{}
}

// NodeName: a pod naming a node fits only there.
func (cy *cycle) filterNodeName(n *nodeInfo) status {
	if nn := cy.pod.Spec.NodeName; nn != "" && nn != n.name {
		return fail(codeUnresolvable, reasonsNodeName)
	}
	return status{}
}

// TaintToleration: every NoSchedule and NoExecute taint must be tolerated.
func (cy *cycle) filterTaints(n *nodeInfo) status {
	if untolerated(n.hardTaints, cy.pod.Spec.Tolerations) {
		return fail(codeUnresolvable, reasonsTaint)
	}
	return status{}
}

func untolerated(taints []corev1.Taint, tols []corev1.Toleration) bool {
	for i := range taints {
		ok := false
		for j := range tols {
			if tols[j].ToleratesTaint(discard, &taints[i], false) {
				ok = true
				break
			}
		}
		if !ok {
			return true
		}
	}
	return false
}

// NodeAffinity: nodeSelector and required node affinity terms.
func (cy *cycle) filterNodeAffinity(n *nodeInfo) status {
	if !cy.matchesNodeAffinity(n) {
		return fail(codeUnresolvable, reasonsNodeAffinity)
	}
	return status{}
}

// NodeResourcesFit: room for one more pod and for the pod's requests.
func (cy *cycle) filterResources(n *nodeInfo) status {
	used, pods := &n.requested, int64(len(n.pods))
	if len(n.nominated) > 0 {
		// Room reserved for more important pods a preemption made room for.
		extra, count := cy.nominatedRoom(n)
		if count > 0 {
			extra.add(&n.requested)
			used, pods = &extra, pods+count
		}
	}
	var short uint8
	if pods+1 > n.allowedPods {
		short |= shortPods
	}
	r := &cy.pi.req
	if !cy.noRequests {
		if r.milliCPU > 0 && n.alloc.milliCPU < r.milliCPU+used.milliCPU {
			short |= shortCPU
		}
		if r.memory > 0 && n.alloc.memory < r.memory+used.memory {
			short |= shortMemory
		}
		if r.ephemeral > 0 && n.alloc.ephemeral < r.ephemeral+used.ephemeral {
			short |= shortEphemeral
		}
	}
	var reasons []string
	if !cy.noRequests {
		for name, q := range r.scalar {
			if q > 0 && n.alloc.scalar[name] < q+used.scalar[name] {
				if reasons == nil {
					reasons = append([]string(nil), shortReasons[short]...)
				}
				reasons = append(reasons, insufficientPrefix+string(name))
			}
		}
	}
	if reasons != nil {
		return status{code: codeUnschedulable, reasons: reasons}
	}
	if short != 0 {
		return status{code: codeUnschedulable, reasons: shortReasons[short]}
	}
	return status{}
}

const (
	shortPods uint8 = 1 << iota
	shortCPU
	shortMemory
	shortEphemeral
)

// shortReasons holds the reasons for every combination of missing pods
// room, cpu, memory and ephemeral storage, built once so that the many
// nodes failing on resources allocate nothing.
var shortReasons = func() [16][]string {
	var out [16][]string
	for m := 1; m < 16; m++ {
		var rs []string
		if m&int(shortPods) != 0 {
			rs = append(rs, ReasonTooManyPods)
		}
		if m&int(shortCPU) != 0 {
			rs = append(rs, insufficientPrefix+string(corev1.ResourceCPU))
		}
		if m&int(shortMemory) != 0 {
			rs = append(rs, insufficientPrefix+string(corev1.ResourceMemory))
		}
		if m&int(shortEphemeral) != 0 {
			rs = append(rs, insufficientPrefix+string(corev1.ResourceEphemeralStorage))
		}
		out[m] = rs
	}
	return out
}()

// PodTopologySpread (DoNotSchedule): placing the pod must not make its
// domain exceed the least populated eligible domain by more than maxSkew.
func (cy *cycle) filterSpread(n *nodeInfo) status {
	if len(cy.hardSpread) == 0 {
		return status{}
	}
	if len(cy.hardSpread) > 1 && !hasAllKeys(n.labels, cy.hardSpread[0].keys) {
		return fail(codeUnresolvable, reasonsSpreadLabel)
	}
	for _, s := range cy.hardSpread {
		v, ok := n.labels[s.key]
		if !ok {
			return fail(codeUnresolvable, reasonsSpreadLabel)
		}
		if s.counts[v]+s.selfMatch-s.min > s.maxSkew {
			return fail(codeUnschedulable, reasonsSpread)
		}
	}
	return status{}
}

// InterPodAffinity: the pod's required affinity and anti-affinity, and the
// required anti-affinity of pods already placed.
func (cy *cycle) filterInterPod(n *nodeInfo) status {
	if !cy.satisfiesAffinity(n) {
		return fail(codeUnresolvable, reasonsPodAffinity)
	}
	for i := range cy.antiCounts {
		if v, ok := n.labels[cy.pi.terms.reqAnti[i].topologyKey]; ok && cy.antiCounts[i][v] > 0 {
			return fail(codeUnschedulable, reasonsPodAntiAffinity)
		}
	}
	for i := range cy.existingAntiList {
		e := &cy.existingAntiList[i]
		if v, ok := n.labels[e.key]; ok && e.vals[v] > 0 {
			return fail(codeUnschedulable, reasonsExistingAntiAffinity)
		}
	}
	return status{}
}

func (cy *cycle) satisfiesAffinity(n *nodeInfo) bool {
	terms := cy.pi.terms.reqAffinity
	if len(terms) == 0 {
		return true
	}
	exist := true
	for i := range terms {
		v, ok := n.labels[terms[i].topologyKey]
		if !ok {
			return false
		}
		if cy.affCounts[terms[i].topologyKey][v] <= 0 {
			exist = false
		}
	}
	if exist {
		return true
	}
	// The first pod of a group with affinity to itself would wait forever:
	// it may go anywhere when no pod matches yet and it matches its terms.
	return len(cy.affCounts) == 0 && cy.matchesOwnAffinity()
}

func (cy *cycle) matchesOwnAffinity() bool {
	for i := range cy.pi.terms.reqAffinity {
		if !cy.pi.terms.reqAffinity[i].matches(cy.pi, cy.c.nsLabels) {
			return false
		}
	}
	return true
}
