#include "engine/backend.h"
int  ringo__epoll_open(ringo_loop *l) { (void)l; return -ENOSYS; }
void ringo__epoll_close(ringo_loop *l) { (void)l; }
void ringo__epoll_step(ringo_loop *l, bool wait) { (void)l; (void)wait; }
bool ringo__epoll_queued(ringo_loop *l) { (void)l; return false; }
int  ringo__epoll_wait(ringo_loop *l, ringo__op *op) { (void)l; (void)op; return -ENOSYS; }
void ringo__epoll_start(ringo_loop *l, ringo__req *rq) { (void)l; (void)rq; }
void ringo__epoll_cancel(ringo_loop *l, ringo__req *rq) { (void)l; (void)rq; }
bool ringo__epoll_patch(ringo_loop *l, ringo__req *rq) { (void)l; (void)rq; return false; }
void ringo__epoll_forget(ringo_loop *l, int fd) { (void)l; (void)fd; }
