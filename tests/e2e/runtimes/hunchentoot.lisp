;; A hunchentoot static file server on 127.0.0.1:PORT serving ROOT; SIGINT stops it.
;; usage: sbcl --non-interactive --load hunchentoot.lisp ROOT/ PORT [THREADS]
;; THREADS: the taskmaster's max-thread-count (hunchentoot's default, 100, answers 503 to
;; connections beyond 100 + 20 waiting; the 200 stalled clients of demo/bench.sh need more)
(require :asdf)
(let ((*standard-output* (make-broadcast-stream)) (*error-output* (make-broadcast-stream)))
  (asdf:load-system :hunchentoot))
(let* ((args sb-ext:*posix-argv*)
       (root (second args)) (port (parse-integer (third args)))
       (threads (and (fourth args) (parse-integer (fourth args))))
       (acceptor (make-instance 'hunchentoot:easy-acceptor :address "127.0.0.1" :port port
                                :document-root (pathname root)
                                :access-log-destination nil :message-log-destination nil
                                :taskmaster (if threads
                                                (make-instance 'hunchentoot:one-thread-per-connection-taskmaster
                                                               :max-thread-count threads
                                                               :max-accept-count (+ threads 20))
                                                (make-instance 'hunchentoot:one-thread-per-connection-taskmaster)))))
  (hunchentoot:start acceptor)
  (format t "listening~%") (finish-output)
  (handler-case (loop (sleep 1))
    (sb-sys:interactive-interrupt () (hunchentoot:stop acceptor) (sb-ext:exit :code 0))))
