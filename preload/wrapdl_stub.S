/* dlopen and dlsym as the program sees them (see preload/wrapdl.c).
 *
 * glibc's dlopen and dlsym read their caller's return address: dlopen
 * searches the caller's RPATH/RUNPATH and namespace, dlsym(RTLD_NEXT)
 * looks for the definition after the caller's object. A wrapper written
 * in C that called them would make this library the caller. So each entry
 * point asks a C chooser which function should handle the call, restores
 * the arguments and jumps to it: the chosen function (libc's own, or
 * backstop's for a declared wrapper) runs with the program's return
 * address, exactly as if the program had called it. */

#if defined(__x86_64__)

#define STUB(name, chooser)                                               \
	.globl name;                                                      \
	.type name, @function;                                            \
name:                                                                     \
	.cfi_startproc;                                                   \
	endbr64;                                                          \
	/* three pushes realign the stack to 16 bytes for the call */     \
	pushq %rdi; .cfi_adjust_cfa_offset 8;                             \
	pushq %rsi; .cfi_adjust_cfa_offset 8;                             \
	pushq %rdx; .cfi_adjust_cfa_offset 8;                             \
	call chooser;                                                     \
	popq %rdx; .cfi_adjust_cfa_offset -8;                             \
	popq %rsi; .cfi_adjust_cfa_offset -8;                             \
	popq %rdi; .cfi_adjust_cfa_offset -8;                             \
	jmp *%rax;                                                        \
	.cfi_endproc;                                                     \
	.size name, .-name

#elif defined(__aarch64__)

#define STUB(name, chooser)                                               \
	.globl name;                                                      \
	.type name, %function;                                            \
name:                                                                     \
	.cfi_startproc;                                                   \
	stp x29, x30, [sp, #-32]!;                                        \
	.cfi_def_cfa_offset 32;                                           \
	.cfi_offset 29, -32;                                              \
	.cfi_offset 30, -24;                                              \
	mov x29, sp;                                                      \
	stp x0, x1, [sp, #16];                                            \
	bl chooser;                                                       \
	mov x16, x0;                                                      \
	ldp x0, x1, [sp, #16];                                            \
	ldp x29, x30, [sp], #32;                                          \
	.cfi_def_cfa_offset 0;                                            \
	br x16;                                                           \
	.cfi_endproc;                                                     \
	.size name, .-name

#else
#error "declared wrappers: no dlopen/dlsym entry stub for this architecture"
#endif

	.text
STUB(dlopen, bs_dlopen_choose)
STUB(dlsym, bs_dlsym_choose)

	.section .note.GNU-stack, "", @progbits
