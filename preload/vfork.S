/* vfork as the program sees it (see preload/sharedchild.c): counts the
 * child that will share this process's memory, for bs_shared_child.
 *
 * A vfork child runs on its parent's stack until it execs or exits, and
 * returns from vfork into the caller's frame: an entry point written in C
 * would have its own frame (and return address) overwritten by the child
 * before the parent returned through it. So, as glibc's own vfork does,
 * the return address is kept in a register across the system call (x86-64;
 * on arm64 it is in one already). Other architectures: no entry, and
 * sharedchild.c has every slot-holding close ask getpid.
 *
 * bs_vm_children goes up before the child exists and down when the parent
 * runs again (the child shares the counter and leaves it alone). The
 * library carries no shadow-stack marking, so shadow stacks are off in a
 * process that loads it; were it marked, the child would have to return
 * without popping the shared shadow stack, as glibc's vfork does. */

#if defined(__x86_64__)
#include <sys/syscall.h>

	.text
	.globl vfork
	.type vfork, @function
vfork:
	.cfi_startproc
	endbr64
	lock incq bs_vm_children(%rip)
	popq %rdi                       /* the return address: kept across */
	.cfi_adjust_cfa_offset -8
	.cfi_register %rip, %rdi
	movl $SYS_vfork, %eax
	syscall
	pushq %rdi
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rip, 0
	testl %eax, %eax
	jz 1f                           /* the child: its parent counts down */
	lock decq bs_vm_children(%rip)
	cmpl $-4095, %eax
	jae 2f
1:	ret
2:	negl %eax                       /* -errno; the parent's own stack */
	movl %eax, %edi
	jmp bs_vfork_failed
	.cfi_endproc
	.size vfork, .-vfork

#elif defined(__aarch64__)

/* The return address is in x30, which the system call keeps: the child
 * returns with it without touching the stack. vfork is clone(CLONE_VM |
 * CLONE_VFORK | SIGCHLD) on the caller's stack here, as in glibc and musl.
 * x9-x11 are scratch registers the kernel preserves across svc. */
	.text
	.globl vfork
	.type vfork, %function
vfork:
	.cfi_startproc
	adrp x9, bs_vm_children
	add x9, x9, :lo12:bs_vm_children
1:	ldaxr x10, [x9]
	add x10, x10, #1
	stlxr w11, x10, [x9]
	cbnz w11, 1b
	mov x0, #0x4111                 /* CLONE_VM | CLONE_VFORK | SIGCHLD */
	mov x1, #0                      /* the caller's stack */
	mov x8, #220                    /* SYS_clone */
	svc #0
	cbz x0, 3f                      /* the child: its parent counts down */
2:	ldaxr x10, [x9]
	sub x10, x10, #1
	stlxr w11, x10, [x9]
	cbnz w11, 2b
	cmn x0, #4095
	b.cs 4f
3:	ret
4:	neg w0, w0                      /* -errno */
	b bs_vfork_failed
	.cfi_endproc
	.size vfork, .-vfork

#endif

	.section .note.GNU-stack, "", %progbits
